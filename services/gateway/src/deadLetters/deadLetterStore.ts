import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import {
  consistencyTokenOf,
  decodeBatch,
  decodeEvent,
  FarmbrainError,
  frameBatch,
  HEADERS,
  partitionOf,
  type DeadLetterItem,
  type DeadLetterPage,
  type Names,
  type ReplayedDeadLetter,
} from '@farmbrain/contracts';
import { DependencyUnavailableError, isConnectionFailure, isNotFound, type Pool } from '@farmbrain/platform';


export interface DeadLetterQuery {
  source?: 'ingest' | 'projection';
  agentId?: string;
  code?: string;
  limit?: number;
  cursor?: string;
}



const ID = /^([pi]):(\d{1,15})$/;
const invalidId = (id: string) =>
  new FarmbrainError('INVALID_REQUEST', `'${id.slice(0, 40)}' is not a dead letter id: p:<n> (a projection's) or i:<n> (ingest's), as GET /v1/dead-letters lists them`);
const notFound = (id: string) => new FarmbrainError('NOT_FOUND', `dead letter '${id}' was not found; list them with GET /v1/dead-letters`);

/**
 * Lists, shows and replays dead letters. Projection dead letters live in
 * Postgres (written with the projection's checkpoint); ingest's in the
 * dead-letter stream. A replay never writes a store: it publishes the stored
 * event again on its agent's INGRESS subject, like any producer batch, marked
 * with HEADERS.replayOf. So it goes through ingest's checks again (a scope
 * policy fixed since is applied); ingest copies the mark onto the canonical
 * message, and a projection then forgets it had dead-lettered the event and
 * applies it. What fails again is dead-lettered again (a projection dead
 * letter is listed again, not replayed, with the new reason; an ingest one as
 * a new dead letter).
 */
export class DeadLetterStore {
  /** `jsm` gives the gateway's one JetStream manager (made once by main). */
  constructor(private readonly d: { pool: Pool; jsm: () => Promise<JetStreamManager>; js: JetStreamClient; names: Names }) {}

  async list(q: DeadLetterQuery): Promise<DeadLetterPage> {
    const limit = q.limit ?? 50;
    return (q.source ?? 'projection') === 'projection' ? this.#projection(q, limit) : this.#ingest(q, limit);
  }

  /** One dead letter by id; NOT_FOUND when there is none (an ingest one may have aged out of the stream). */
  async get(id: string): Promise<DeadLetterItem> {
    const m = ID.exec(id);
    if (!m) throw invalidId(id);
    if (m[1] === 'p') {
      const r = await this.d.pool.query(`${PROJECTION_SELECT} WHERE id = $1`, [Number(m[2])]);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      if (!row) throw notFound(id);
      return projectionItem(row);
    }
    const msg = await this.#ingestMessage(Number(m[2]));
    if (!msg) throw notFound(id);
    return ingestItem(msg);
  }

  async #projection(q: DeadLetterQuery, limit: number): Promise<DeadLetterPage> {
    let before: number | null = null;
    if (q.cursor) {
      if (!/^p:\d{1,15}$/.test(q.cursor)) throw new FarmbrainError('INVALID_CURSOR', 'cursor is not one this API returned; pass nextCursor unchanged');
      before = Number(q.cursor.slice(2));
    }
    const r = await this.d.pool.query(
      `${PROJECTION_SELECT}
        WHERE ($1::text IS NULL OR agent_id = $1) AND ($2::text IS NULL OR code = $2) AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4`,
      [q.agentId ?? null, q.code ?? null, before, limit + 1],
    );
    const rows = r.rows as Record<string, unknown>[];
    const page = rows.slice(0, limit);
    return { items: page.map(projectionItem), nextCursor: rows.length > limit ? `p:${page[page.length - 1]!.id as number}` : null };
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
      items.push(ingestItem(m));
    }
    return { items, nextCursor: more ? `i:${items[items.length - 1]!.id.slice(2)}` : null };
  }

  /** The dead-letter stream's message `seq`, or undefined when there is none (or it is not a dead letter). */
  async #ingestMessage(seq: number): Promise<StoredMsg | undefined> {
    const jsm = await this.d.jsm();
    try {
      const m = await jsm.streams.getMessage(this.d.names.deadLetterStream, { seq });
      return m && m.subject.startsWith(`${this.d.names.namespace}.dlq.`) ? m : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Replays a dead letter after its cause was fixed (a scope policy, a
   * migration, a new projection version, the memory it updates now exists):
   * its event goes to the agent's ingress subject again and through ingest's
   * checks like any write. NOT_FOUND when there is no such dead letter;
   * ALREADY_REPLAYED when a projection's was replayed (or any was just
   * replayed: within the duplicate window); NOT_REPLAYABLE for a message that
   * never decoded.
   */
  async replay(id: string): Promise<ReplayedDeadLetter> {
    const m = ID.exec(id);
    if (!m) throw invalidId(id);
    return m[1] === 'p' ? this.#replayProjection(id, Number(m[2])) : this.#replayIngest(id, Number(m[2]));
  }

  async #replayProjection(id: string, n: number): Promise<ReplayedDeadLetter> {
    const r = await this.d.pool.query<{ agent_id: string; event_id: string | null; replayed_at: Date | null; dead_lettered_at: Date; event: Buffer }>(
      'SELECT agent_id, event_id::text, replayed_at, dead_lettered_at, event FROM projection_dead_letters WHERE id = $1', [n]);
    const row = r.rows[0];
    if (!row) throw notFound(id);
    if (row.replayed_at) throw new FarmbrainError('ALREADY_REPLAYED', `dead letter '${id}' was replayed at ${row.replayed_at.toISOString()}; if it failed again, it is listed again (not replayed) with the new reason`);
    if (!row.event_id || row.event.byteLength === 0) throw new FarmbrainError('NOT_REPLAYABLE', `dead letter '${id}' holds a message that never decoded; there is no event to replay`);
    // A dead letter can be replayed again after it failed again: each replay is its own message.
    return this.#publish(id, String(n), row.agent_id, frameBatch([new Uint8Array(row.event)]), row.event_id, `replay:${id}:${row.dead_lettered_at.getTime()}`);
  }

  async #replayIngest(id: string, seq: number): Promise<ReplayedDeadLetter> {
    const msg = await this.#ingestMessage(seq);
    if (!msg) throw notFound(id);
    const agentId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const code = msg.header.get(HEADERS.reasonCode) ?? '';
    const cannot = (why: string) => new FarmbrainError('NOT_REPLAYABLE', `dead letter '${id}' ${why}; there is no event to replay: the producer must send it again`);
    let body: Uint8Array;
    let eventId: string;
    if (code === 'AGENT_MISMATCH') {
      // Rejected whole for its subject: the body is the producer's batch as it came, sent again on the agent's own partition.
      let first;
      try {
        first = decodeBatch(msg.data)[0];
      } catch {
        throw cannot('holds a message that never decoded');
      }
      if (!first) throw cannot('holds a message without events');
      body = msg.data;
      eventId = first.raw.eventId ?? '';
    } else {
      // One rejected event, as it came: framed as a batch of one.
      try {
        eventId = decodeEvent(msg.data).eventId;
      } catch {
        throw cannot('holds an event that never decoded');
      }
      body = frameBatch([msg.data]);
    }
    return this.#publish(id, id, agentId, body, eventId, `replay:${id}`);
  }

  /** Publishes a replay on the agent's ingress subject, as a producer batch marked with HEADERS.replayOf. */
  async #publish(id: string, replayOf: string, agentId: string, body: Uint8Array, eventId: string, msgID: string): Promise<ReplayedDeadLetter> {
    const h: MsgHdrs = natsHeaders();
    h.set(HEADERS.replayOf, replayOf);
    let ack;
    try {
      ack = await this.d.js.publish(this.d.names.ingressSubject(agentId), body, { msgID, headers: h });
    } catch (err) {
      const what = `JetStream did not acknowledge the replay (${(err as Error).message}); replay it again`;
      if (isConnectionFailure(err)) throw new DependencyUnavailableError('nats', what, { cause: err });
      throw new FarmbrainError('PUBLISH_FAILED', what, { cause: err });
    }
    if (ack.duplicate) throw new FarmbrainError('ALREADY_REPLAYED', `dead letter '${id}' was just replayed (the replay is on its way); list it again to see its outcome`);
    return { id, eventId, streamSeq: ack.seq, consistencyToken: consistencyTokenOf(partitionOf(agentId, this.d.names.partitions), ack.seq) };
  }
}

const PROJECTION_SELECT =
  'SELECT id, projection, agent_id, event_id::text, event_type, code, reason, sqlstate, dead_lettered_at, replayed_at, event FROM projection_dead_letters';

function projectionItem(row: Record<string, unknown>): DeadLetterItem {
  return {
    id: `p:${row.id as number}`, source: 'projection', projection: row.projection as string, agentId: row.agent_id as string,
    eventId: (row.event_id as string | null) ?? null, eventType: row.event_type as string, code: row.code as string,
    reason: row.reason as string, sqlstate: (row.sqlstate as string | null) ?? null,
    deadLetteredAt: (row.dead_lettered_at as Date).toISOString(), replayedAt: row.replayed_at ? (row.replayed_at as Date).toISOString() : null,
    event: (row.event as Buffer).toString('base64'),
  };
}

function ingestItem(m: StoredMsg): DeadLetterItem {
  let eventType = '';
  try {
    eventType = decodeEvent(m.data).type;
  } catch {
    // the body is what came in; it may not decode at all (or be a whole batch)
  }
  const eventId = m.header.get(HEADERS.eventId);
  return {
    id: `i:${m.seq}`, source: 'ingest', projection: '', agentId: m.subject.slice(m.subject.lastIndexOf('.') + 1),
    eventId: eventId && eventId !== '-' ? eventId : null, eventType, code: m.header.get(HEADERS.reasonCode) ?? '',
    reason: m.header.get(HEADERS.reason) ?? '', sqlstate: null,
    deadLetteredAt: m.time.toISOString(), replayedAt: null, event: Buffer.from(m.data).toString('base64'),
  };
}
