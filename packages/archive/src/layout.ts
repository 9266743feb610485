/**
 * Where a namespace's archive lives in the store: one folder per partition,
 * each segment under a key made of its range, with its sidecar manifest beside it.
 *
 * ```
 * <ns>/segments/p0003/00000000000000000101-00000000000000004417.seg
 * <ns>/segments/p0003/00000000000000000101-00000000000000004417.json
 * ```
 * Sequences have 20 digits, so keys sort in stream order. A key follows from
 * the range alone: a seal retried after a crash writes the same keys.
 */
const SEQ_DIGITS = 20;
const pad = (n: number) => String(n).padStart(SEQ_DIGITS, '0');

export const partitionPrefix = (namespace: string, partition: number): string =>
  `${namespace}/segments/p${String(partition).padStart(4, '0')}/`;

export const segmentKey = (namespace: string, partition: number, firstSeq: number, lastSeq: number): string =>
  `${partitionPrefix(namespace, partition)}${pad(firstSeq)}-${pad(lastSeq)}.seg`;

export const sidecarKey = (segment: string): string => segment.replace(/\.seg$/, '.json');

/** The keys of segments that start at `firstSeq` (a retry finds what a crashed seal left). */
export const startingAt = (namespace: string, partition: number, firstSeq: number): string => `${partitionPrefix(namespace, partition)}${pad(firstSeq)}-`;

/** The range of a segment or sidecar key, or undefined for any other key. */
export function parseKey(key: string): { firstSeq: number; lastSeq: number; kind: 'seg' | 'json' } | undefined {
  const m = /(\d{20})-(\d{20})\.(seg|json)$/.exec(key);
  return m ? { firstSeq: Number(m[1]), lastSeq: Number(m[2]), kind: m[3] as 'seg' | 'json' } : undefined;
}
