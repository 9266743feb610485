import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { decodeEvent, FarmbrainError, frameBatch, HEADERS, partitionOf, type Names } from '@farmbrain/contracts';
import { isNotFound, type Pool } from '@farmbrain/platform';

/** A dead letter, from ingest (invalid input) or from a projection (could not apply, or skipped on purpose). */
export interface DeadLetterItem {
  /** Stable id: `p:<n>` (projection) or `i:<dlq stream seq>` (ingest). */
  id: string;
  source: 'ingest' | 'projection';
  /** The projection's versioned name ('' for ingest). */
  projection: string;
  agentId: string;
  eventId: string | null;
  eventType: string;
  code: string;
  reason: string;
  /** Postgres SQLSTATE of a store error. */
  sqlstate: string | null;
  deadLetteredAt: string | null;
  /** When it was replayed (projection dead letters only). */
  replayedAt: string | null;
  /** The event, base64 protobuf (as it was on the stream). */
  event: string;
}

export interface DeadLetterQuery {
  source?: 'ingest' | 'projection';
  agentId?: string;
  code?: string;
  limit?: number;
  cursor?: string;
}

export interface DeadLetterPage {
  items: DeadLetterItem[];
  nextCursor: string | null;
}

const invalid = (m: string) => new FarmbrainError('INVALID_REQUEST', m);

/**
 * Lists dead letters and replays projection dead letters. Projection dead
 * letters live in Postgres (written with the projection's checkpoint); ingest's
 * in the dead-letter stream. A replay never writes a projection: it publishes
 * the stored event again on the canonical stream, marked with HEADERS.replayOf,
 * and the projection itself forgets it had dead-lettered the event and applies it.
 */
export class DeadLetterStore {
  /** `jsm` gives the gateway's one JetStream manager (made once by main). */
  constructor(private readonly d: { pool: Pool; jsm: () => Promise<JetStreamManager>; js: JetStreamClient; names: Names }) {}

  async list(q: DeadLetterQuery): Promise<DeadLetterPage> {
    const limit = q.limit ?? 50;
    return (q.source ?? 'projection') === 'projection' ? this.#projection(q, limit) : this.#ingest(q, limit);
  }

  async #projection(q: DeadLetterQuery, limit: number): Promise<DeadLetterPage> {
    let before: number | null = null;
    if (q.cursor) {
      if (!/^p:\d{1,15}$/.test(q.cursor)) throw new FarmbrainError('INVALID_CURSOR', 'cursor is not one this API returned; pass nextCursor unchanged');
      before = Number(q.cursor.slice(2));
    }
    const r = await this.d.pool.query(
      `SELECT id, projection, agent_id, event_id::text, event_type, code, reason, sqlstate, dead_lettered_at, replayed_at, event
         FROM projection_dead_letters
        WHERE ($1::text IS NULL OR agent_id = $1) AND ($2::text IS NULL OR code = $2) AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4`,
      [q.agentId ?? null, q.code ?? null, before, limit + 1],
    );
    const rows = r.rows as Record<string, unknown>[];
    const page = rows.slice(0, limit);
    return {
      items: page.map((row) => ({
        id: `p:${row.id as number}`, source: 'projection', projection: row.projection as string, agentId: row.agent_id as string,
        eventId: (row.event_id as string | null) ?? null, eventType: row.event_type as string, code: row.code as string,
        reason: row.reason as string, sqlstate: (row.sqlstate as string | null) ?? null,
        deadLetteredAt: (row.dead_lettered_at as Date).toISOString(), replayedAt: row.replayed_at ? (row.replayed_at as Date).toISOString() : null,
        event: (row.event as Buffer).toString('base64'),
      })),
      nextCursor: rows.length > limit ? `p:${page[page.length - 1]!.id as number}` : null,
    };
  }

  /** Ingest's dead letters, oldest first from the cursor (the dead-letter stream keeps them for FB_DLQ_MAX_AGE_MS). */
  async #ingest(q: DeadLetterQuery, limit: number): Promise<DeadLetterPage> {
    let after = 0;
    if (q.cursor) {
      if (!/^i:\d{1,15}$/.test(q.cursor)) throw new FarmbrainError('INVALID_CURSOR', 'cursor is not one this API returned; pass nextCursor unchanged');
      after = Number(q.cursor.slice(2));
    }
    const n = this.d.names;
    const filter = q.agentId ? `${n.namespace}.dlq.*.${q.agentId}` : `${n.namespace}.dlq.>`;
    const jsm = await this.d.jsm();
    const items: DeadLetterItem[] = [];
    let seq = after + 1;
    let more = false;
    // Scans at most a bounded number of messages per page (a code filter can skip many).
    for (let scanned = 0; scanned < limit * 20; scanned++) {
      let m;
      try {
        // STREAM.MSG.GET with seq + next_by_subj (NATS 2.9+): the first message at or after seq on the filter.
        // nats.js types only list it for direct gets, but the server API takes it here too.
        m = await jsm.streams.getMessage(n.deadLetterStream, { seq, next_by_subj: filter } as unknown as { seq: number });
      } catch (err) {
        if (isNotFound(err)) break;
        throw err;
      }
      if (!m) break;
      seq = m.seq + 1;
      const code = m.header.get(HEADERS.reasonCode) ?? '';
      if (q.code && code !== q.code) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      let eventType = '';
      try {
        eventType = decodeEvent(m.data).type;
      } catch {
        // the body is what came in; it may not decode at all
      }
      const eventId = m.header.get(HEADERS.eventId);
      items.push({
        id: `i:${m.seq}`, source: 'ingest', projection: '', agentId: m.subject.slice(m.subject.lastIndexOf('.') + 1),
        eventId: eventId && eventId !== '-' ? eventId : null, eventType, code, reason: m.header.get(HEADERS.reason) ?? '', sqlstate: null,
        deadLetteredAt: m.time.toISOString(), replayedAt: null, event: Buffer.from(m.data).toString('base64'),
      });
    }
    return { items, nextCursor: more ? `i:${items[items.length - 1]!.id.slice(2)}` : null };
  }

  /**
   * Replays a projection dead letter: after a fix (a migration, a new version of
   * the projection), its event is published again on its partition's canonical
   * stream and applied like any other. NOT_FOUND when there is no such dead
   * letter; ALREADY_REPLAYED when it was replayed; NOT_REPLAYABLE for a message that never decoded.
   */
  async replay(id: string): Promise<{ id: string; eventId: string; streamSeq: number }> {
    if (!/^p:\d{1,15}$/.test(id)) throw invalid(`'${id.slice(0, 40)}' is not a projection dead letter id (p:<n>); ingest dead letters are fixed by the producer and sent again`);
    const r = await this.d.pool.query<{ agent_id: string; event_id: string | null; replayed_at: Date | null; dead_lettered_at: Date; event: Buffer }>(
      'SELECT agent_id, event_id::text, replayed_at, dead_lettered_at, event FROM projection_dead_letters WHERE id = $1', [Number(id.slice(2))]);
    const row = r.rows[0];
    if (!row) throw new FarmbrainError('NOT_FOUND', `dead letter '${id}' was not found; list them with GET /v1/dead-letters`);
    if (row.replayed_at) throw new FarmbrainError('ALREADY_REPLAYED', `dead letter '${id}' was replayed at ${row.replayed_at.toISOString()}; if it failed again, it is listed again (not replayed) with the new reason`);
    if (!row.event_id || row.event.byteLength === 0) throw new FarmbrainError('NOT_REPLAYABLE', `dead letter '${id}' holds a message that never decoded; there is no event to replay`);
    const h = natsHeaders();
    h.set(HEADERS.replayOf, id.slice(2));
    const subject = `${this.d.names.namespace}.ev.${partitionOf(row.agent_id, this.d.names.partitions)}.${row.agent_id}`;
    // A dead letter can be replayed again after it failed again: each replay is its own message.
    const ack = await this.d.js.publish(subject, frameBatch([new Uint8Array(row.event)]), { msgID: `replay:${id}:${row.dead_lettered_at.getTime()}`, headers: h });
    if (ack.duplicate) throw new FarmbrainError('ALREADY_REPLAYED', `dead letter '${id}' was just replayed (the replay is on its way); list it again to see its outcome`);
    return { id, eventId: row.event_id, streamSeq: ack.seq };
  }
}
