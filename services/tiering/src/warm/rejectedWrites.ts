import type { PoolClient } from '@farmbrain/platform';
import { storableText, type RejectedWrite } from '@farmbrain/projection';

/** Records ingress messages ingest rejected (from their canonical markers), in the batch's transaction. */
export async function recordRejectedWrites(c: PoolClient, partition: number, rs: readonly RejectedWrite[]): Promise<void> {
  if (rs.length === 0) return;
  await c.query(
    `INSERT INTO rejected_writes (partition, ingress_seq, agent_id, rejected, accepted, code, reason)
     SELECT $1, x.ingress_seq, x.agent_id, x.rejected, x.accepted, x.code, x.reason
       FROM jsonb_to_recordset($2::jsonb) AS x(ingress_seq bigint, agent_id text, rejected int, accepted int, code text, reason text)
     ON CONFLICT DO NOTHING`,
    [partition, JSON.stringify(rs.map((r) => ({ ingress_seq: r.ingressSeq, agent_id: storableText(r.agentId, 128), rejected: r.rejected, accepted: r.accepted, code: storableText(r.code, 64), reason: storableText(r.reason) })))],
  );
}
