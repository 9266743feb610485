import type { PoolClient } from '@farmbrain/platform';

/** One event a projection did not apply, with why. */
export interface DeadLetter {
  partition: number;
  streamSeq: number;
  /** The ingress sequence of the write that carried it (0 when unknown). */
  ingressSeq?: number;
  /** Absent when the message did not decode. */
  eventId?: string;
  agentId: string;
  eventType: string;
  code: string;
  reason: string;
  sqlstate?: string;
  /** The event as protobuf (or the whole message body when it did not decode). */
  body: Uint8Array;
}

/**
 * Text from outside (a subject token, a header, an error message quoting the
 * data) made safe to store: control characters and lone surrogates replaced,
 * length capped. A dead letter must never itself fail to be written.
 */
export const storableText = (s: string, max = 2000): string =>
  // eslint-disable-next-line no-control-regex
  s.slice(0, max).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/**
 * Records dead letters in the batch's transaction: each is kept exactly once,
 * with the checkpoint that moves past it, and once per event id: a duplicate
 * of a dead-lettered event adds nothing, while an event that fails again after
 * a replay puts its dead letter back (not replayed, with the new reason).
 */
export async function recordDeadLetters(c: PoolClient, projection: string, all: readonly DeadLetter[]): Promise<void> {
  const seen = new Set<string>();
  const letters = all.filter((l) => !l.eventId || (seen.has(l.eventId) ? false : (seen.add(l.eventId), true)));
  if (letters.length === 0) return;
  await c.query(
    `INSERT INTO projection_dead_letters (projection, partition, stream_seq, ingress_seq, event_id, agent_id, event_type, code, reason, sqlstate, event)
     SELECT $1, x.partition, x.stream_seq, x.ingress_seq, x.event_id, x.agent_id, x.event_type, x.code, x.reason, x.sqlstate, decode(x.body, 'base64')
       FROM jsonb_to_recordset($2::jsonb) AS x(partition int, stream_seq bigint, ingress_seq bigint, event_id uuid, agent_id text, event_type text,
            code text, reason text, sqlstate text, body text)
     ON CONFLICT (projection, event_id) WHERE event_id IS NOT NULL DO UPDATE SET
       replayed_at = NULL, stream_seq = EXCLUDED.stream_seq, ingress_seq = EXCLUDED.ingress_seq, code = EXCLUDED.code, reason = EXCLUDED.reason,
       sqlstate = EXCLUDED.sqlstate, dead_lettered_at = now()
     WHERE projection_dead_letters.replayed_at IS NOT NULL`,
    [projection, JSON.stringify(letters.map((l) => ({
      partition: l.partition, stream_seq: l.streamSeq, ingress_seq: l.ingressSeq ?? 0, event_id: l.eventId ?? null, agent_id: storableText(l.agentId, 128),
      event_type: storableText(l.eventType, 64), code: storableText(l.code, 64), reason: storableText(l.reason), sqlstate: l.sqlstate ?? null, body: Buffer.from(l.body.buffer, l.body.byteOffset, l.body.byteLength).toString('base64'),
    })))],
  );
}
