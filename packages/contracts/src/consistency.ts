import { FarmbrainError } from './errors.js';

/**
 * A consistency token names writes by where they landed: for each ingress
 * partition, the highest ingress stream sequence written. A read that carries
 * it waits until the projection has applied every ingress message up to that
 * sequence in that partition. Opaque to clients: `c1.<p>:<seq>[,<p>:<seq>...]`
 * in base 36.
 */
export type ConsistencyMarks = Map<number, number>;

export function encodeConsistencyToken(marks: ConsistencyMarks): string {
  const parts = [...marks].sort((a, b) => a[0] - b[0]).map(([p, s]) => `${p.toString(36)}:${s.toString(36)}`);
  return `c1.${parts.join(',')}`;
}

/** Token for one write: the agent's partition and the ingress sequence of its message. */
export const consistencyTokenOf = (partition: number, ingressSeq: number): string => encodeConsistencyToken(new Map([[partition, ingressSeq]]));

/** Parses a token; throws INVALID_CONSISTENCY_TOKEN when it is not one farmbrain issued. */
export function decodeConsistencyToken(token: string, partitions: number): ConsistencyMarks {
  const bad = (why: string): never => {
    throw new FarmbrainError('INVALID_CONSISTENCY_TOKEN', `consistency token '${token.slice(0, 80)}' ${why}; pass the consistencyToken a write returned, unchanged`);
  };
  if (!token.startsWith('c1.') || token.length > 2048) bad('is not a farmbrain v1 token');
  const marks: ConsistencyMarks = new Map();
  for (const part of token.slice(3).split(',')) {
    const m = /^([0-9a-z]{1,4}):([0-9a-z]{1,12})$/.exec(part);
    if (!m) return bad('is malformed');
    const p = parseInt(m[1]!, 36);
    const s = parseInt(m[2]!, 36);
    if (p >= partitions) bad(`names partition ${p}, but this deployment has ${partitions}`);
    marks.set(p, Math.max(marks.get(p) ?? 0, s));
  }
  return marks;
}

/** The later of two tokens' marks, per partition (a client can keep just one token). */
export function mergeConsistencyTokens(a: string | undefined, b: string | undefined, partitions: number): string | undefined {
  if (!a) return b;
  if (!b) return a;
  const m = decodeConsistencyToken(a, partitions);
  for (const [p, s] of decodeConsistencyToken(b, partitions)) m.set(p, Math.max(m.get(p) ?? 0, s));
  return encodeConsistencyToken(m);
}
