import { encodeHeaders, headerPairs, recordSize } from '@farmbrain/archive';
import type { PoolClient } from '@farmbrain/platform';
import type { CanonicalMessage } from '@farmbrain/projection';

const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Stores canonical messages, verbatim, as pending (in the batch's transaction,
 * with the checkpoint). Returns how many and their size in a segment body.
 */
export async function insertPending(c: PoolClient, partition: number, msgs: readonly CanonicalMessage[]): Promise<{ n: number; bytes: number }> {
  if (msgs.length === 0) return { n: 0, bytes: 0 };
  const seqs: number[] = [];
  const subjects: string[] = [];
  const headers: Buffer[] = [];
  const data: Buffer[] = [];
  let bytes = 0;
  for (const m of msgs) {
    const h = headerPairs(m.headers);
    seqs.push(m.seq);
    subjects.push(m.subject);
    headers.push(buf(encodeHeaders(h)));
    data.push(buf(m.data));
    bytes += recordSize({ subject: m.subject, headers: h, data: m.data });
  }
  await c.query(
    `INSERT INTO archive_pending (partition, stream_seq, subject, headers, data)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::bytea[])
     ON CONFLICT (partition, stream_seq) DO NOTHING`,
    [partition, seqs, subjects, headers, data],
  );
  return { n: msgs.length, bytes };
}

/** The size of a pending row in a segment body (recordSize, from the stored columns). */
export const PENDING_SIZE_SQL = '16 + octet_length(subject) + octet_length(headers) + octet_length(data)';
