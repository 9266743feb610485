import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { decodeBatch, encodeEvent, encodeRawEvent, partitionOf, unsealEvent, type FarmEvent, type Names } from '@farmbrain/contracts';
import type { MemoryKeys, Pool } from '@farmbrain/platform';
import { AGENT_FILE_FORMAT, agentFileLines, type ExportedCheckpoint, type ExportedMemory } from './agentFile.js';
import { agentRows } from './agentRows.js';

export interface ExportDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  /** The live projection version's pool (its memories and checkpoints) and name (its checkpoints). */
  pool: Pool;
  projection: string;
  /** Memory content on the log is sealed with each memory's key: the file carries it opened (an erased memory, erased). */
  keys: MemoryKeys;
}

/**
 * Every event of the agent on the canonical log, in log order (an ordered
 * consumer filtered on the agent's subject), each as its protobuf bytes.
 */
export async function* agentEvents({ js, jsm, names, keys }: Pick<ExportDeps, 'js' | 'jsm' | 'names' | 'keys'>, agentId: string, throughSeq = Number.MAX_SAFE_INTEGER): AsyncGenerator<string> {
  const subject = names.eventsSubject(agentId);
  const info = await jsm.streams.info(names.eventsStream, { subjects_filter: subject });
  const messages = (info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
  if (messages === 0) return;
  const consumer = await js.consumers.get(names.eventsStream, { filter_subjects: subject });
  const it = await consumer.consume();
  try {
    for await (const m of it) {
      if (m.seq > throughSeq) break;
      for (const entry of decodeBatch(m.data)) {
        const e = entry.event ? await opened(keys, entry.event) : undefined;
        yield Buffer.from(e ? encodeEvent(e) : encodeRawEvent(entry.raw)).toString('base64');
      }
      if (m.info.pending === 0) break;
    }
  } finally {
    await it.close();
  }
}

/** The agent file of one agent (see agentFile.ts), line by line: stream it to a file or an HTTP response. */
export async function* exportAgent(deps: ExportDeps, agentId: string, now = new Date()): AsyncGenerator<string> {
  // One snapshot: the rows as the projection had them at its checkpoint, and the events up to that checkpoint.
  const c = await deps.pool.connect();
  let through = 0;
  let rows: Awaited<ReturnType<typeof agentRows>>;
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const cp = await c.query<{ last_seq: number }>('SELECT last_seq FROM projection_checkpoints WHERE projection = $1 AND partition = $2',
      [deps.projection, partitionOf(agentId, deps.names.partitions)]);
    through = Number(cp.rows[0]?.last_seq ?? 0);
    rows = await agentRows(c, agentId);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  const models = [...new Set(rows.memories.map((m) => String(m.embedding_model ?? '')).filter((x) => x !== ''))].sort();
  async function* body(): AsyncGenerator<{ event: string } | { memory: ExportedMemory } | { checkpoint: ExportedCheckpoint }> {
    for await (const event of agentEvents(deps, agentId, through)) yield { event };
    for (const memory of rows.memories) yield { memory };
    for (const checkpoint of rows.checkpoints) yield { checkpoint };
  }
  yield* agentFileLines({ format: AGENT_FILE_FORMAT, agentId, exportedAt: now.toISOString(), source: { namespace: deps.names.namespace, embeddingModels: models } }, body());
}

/** A memory event with its content opened (sealed on the log by ingest); others as they are. */
async function opened(keys: MemoryKeys, e: FarmEvent): Promise<FarmEvent> {
  if ((e.type !== 'memory_stored' && e.type !== 'memory_updated') || !e.data.sealed) return e;
  return unsealEvent(e, (await keys.get([e.data.memoryId])).get(e.data.memoryId));
}
