import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { archiveSchema, decodeSegment } from '@farmbrain/archive';
import { ERASED_TEXT, type ErasureView, type RecallResponse, type WriteResult } from '@farmbrain/contracts';
import { connectPostgres, COMMON_DEFAULTS, quoteIdent, type Pool } from '@farmbrain/platform';
import { makeEvent, publishEvents, readStream, TestStack, waitFor } from '@farmbrain/testing';

/**
 * Erasure, done when: after `farmbrain erase`, the memory's text is found nowhere. Every table of every
 * schema of the namespace (the rows as JSON, and every bytea column's bytes), every Redis key under the
 * namespace's prefix (values of all types), every file of the archive (raw bytes, and the messages of
 * every segment decompressed), every message of the canonical, ingress and dead-letter streams, and a
 * backup made afterwards (its compressed table copies decompressed). Before the erasure the same search
 * finds it in Postgres, Redis and the ingress stream (so the search can fail), and never in the clear
 * in the canonical stream or the archive (sealed at ingest). A blue/green rebuild afterwards projects
 * the memory erased.
 */
const stack = new TestStack({
  partitions: 2, archive: true,
  env: { FB_ARCHIVE_SEGMENT_MAX_MESSAGES: '4', FB_ARCHIVE_SEAL_AFTER_MS: '200' },
});
const MARKER = `zq${randomBytes(8).toString('hex')}`;
const marker = Buffer.from(MARKER);
let dir = '';
let archivePool: Pool;

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.gatewayUrl}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as T };
}

/** Every schema of the namespace (the tiering versions' and the archive's included). */
async function namespaceSchemas(): Promise<string[]> {
  const like = `${stack.names.pgSchema.replace(/_/g, '\\_')}\\_%`;
  return (await stack.pool.query<{ s: string }>('SELECT nspname AS s FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2 ORDER BY 1', [stack.names.pgSchema, like])).rows.map((r) => r.s);
}

/** Where in Postgres the marker is: `schema.table` of each row holding it, as text (JSON of the row) or in a bytea column. */
async function inPostgres(): Promise<string[]> {
  const out: string[] = [];
  for (const schema of await namespaceSchemas()) {
    const tables = (await stack.pool.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, [schema])).rows;
    for (const { t } of tables) {
      const bytea = (await stack.pool.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'`, [schema, t])).rows;
      const where = [`position($1 in to_jsonb(x)::text) > 0`, ...bytea.map(({ c }) => `position(convert_to($1, 'UTF8') in x.${quoteIdent(c)}) > 0`)].join(' OR ');
      const r = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.${quoteIdent(t)} x WHERE ${where}`, [MARKER]);
      if (r.rows[0]!.n > 0) out.push(`${schema}.${t} (${r.rows[0]!.n})`);
    }
  }
  return out;
}

/** Redis keys under the namespace's prefix whose value (any type) holds the marker. */
async function inRedis(): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await stack.redis.scan(cursor, 'MATCH', `${stack.names.redisPrefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await stack.redis.type(k);
      const values: string[] = type === 'string' ? [(await stack.redis.get(k)) ?? '']
        : type === 'hash' ? Object.entries(await stack.redis.hgetall(k)).flat()
          : type === 'zset' ? await stack.redis.zrange(k, 0, -1)
            : type === 'list' ? await stack.redis.lrange(k, 0, -1)
              : type === 'set' ? await stack.redis.smembers(k) : [];
      if (values.some((v) => v.includes(MARKER))) out.push(k);
    }
  } while (cursor !== '0');
  return out;
}

/** Messages of a stream holding the marker (data or headers). */
async function inStream(stream: string): Promise<number[]> {
  const msgs = await readStream(stack.js, stack.jsm, stream);
  return msgs.filter((m) => Buffer.from(m.data).includes(marker) || (m.headers?.toString() ?? '').includes(MARKER)).map((m) => m.seq);
}

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

/** Archive files holding the marker: raw bytes, and every segment's messages decompressed. */
async function inArchive(): Promise<string[]> {
  const out: string[] = [];
  for (const f of await files(stack.archiveDir!)) {
    const bytes = await readFile(f);
    if (bytes.includes(marker)) out.push(`${f} (raw)`);
    if (f.endsWith('.seg')) {
      const { messages } = await decodeSegment(bytes, f);
      if (messages.some((m) => Buffer.from(m.data).includes(marker) || JSON.stringify(m.headers).includes(MARKER))) out.push(`${f} (decoded)`);
    }
  }
  return out;
}

const sealedEverything = () => waitFor('every canonical message sealed into the archive', async () =>
  (await archivePool.query<{ n: number }>('SELECT count(*)::int AS n FROM archive_pending')).rows[0]!.n === 0
    && (await archivePool.query<{ n: number }>('SELECT count(*)::int AS n FROM archive_segments')).rows[0]!.n > 0, 30_000, 100);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fb-erase-'));
  await stack.connect();
  archivePool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, archiveSchema(stack.names), { max: 2 });
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('archive');
  await stack.start('gateway');
  for (const a of ['e1', 'e2']) await publishEvents(stack.js, stack.names, [makeEvent(a, 'agent_registered', { name: a, team: '' }, { producerSeq: 1 })]);
  await stack.caughtUp();
});
after(async () => {
  await archivePool?.end();
  await stack.destroy();
  await rm(dir, { recursive: true, force: true });
});

test('erase - after farmbrain erase the memory\'s text is found nowhere: Postgres, Redis, archive files, streams, and a backup made afterwards', async () => {
  // The memory, an update of it (two versions hold the marker), one kept for control, a write of it by
  // another agent (refused by tiering: a dead letter), and an invalid one (refused by ingest: the dead-letter stream).
  const w = await call<WriteResult>('POST', '/v1/agents/e1/memories', { kind: 'fact', text: `Client ${MARKER} asked us to hold BTC through the unlock`, tags: ['erase-me', 'BTC-USD'] });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const id = w.body.memoryId;
  const u = await call<WriteResult>('PATCH', `/v1/agents/e1/memories/${id}`, { text: `Client ${MARKER} asked us to hold BTC and ETH through the unlock`, consistency: w.body.consistencyToken });
  assert.equal(u.status, 200, JSON.stringify(u.body));
  const keep = await call<WriteResult>('POST', '/v1/agents/e1/memories', { kind: 'fact', text: 'Exchange maintenance every Sunday at 02:00 UTC', tags: ['erase-me', 'ops'] });
  assert.equal(keep.status, 201);
  await publishEvents(stack.js, stack.names, [makeEvent('e2', 'memory_updated', { memoryId: id, text: `e2 knows ${MARKER} too`, tags: [], replaceTags: false, embedding: [], embeddingModel: '' }, { producerSeq: 2 })]);
  await publishEvents(stack.js, stack.names, [makeEvent('e1', 'memory_updated', { memoryId: id, text: `bad importance ${MARKER}`, importance: 7, tags: [], replaceTags: false, embedding: [], embeddingModel: '' }, { producerSeq: 3 })]);
  await stack.caughtUp();
  // Recalled (by its tag, not its words): the gateway caches its content in Redis.
  const r = await call<RecallResponse>('POST', '/v1/agents/e1/recall', { tags: ['erase-me'], consistency: u.body.consistencyToken });
  assert.equal(r.status, 200);
  assert.ok(r.body.hits.some((h) => h.memory.memoryId === id && h.memory.text.includes(MARKER)));
  await waitFor('the recalled memory cached in Redis', async () => (await stack.redis.get(`${stack.names.redisPrefix}memdoc:${id}`))?.includes(MARKER));
  await sealedEverything();

  // Before: the search finds it where it is in the clear, and it never was in the clear on the log or in the archive.
  const pg = await inPostgres();
  assert.ok(pg.some((t) => t.endsWith('.memories (1)')) && pg.some((t) => t.includes('.memory_versions')), `in Postgres before: ${pg.join(', ')}`);
  assert.ok((await inRedis()).length >= 2, 'in Redis before (the agent\'s hot copy and the recall cache)');
  assert.ok((await inStream(stack.names.ingressStream)).length >= 3, 'in the ingress stream before (agents publish in the clear; ingest seals)');
  assert.ok((await inStream(stack.names.deadLetterStream)).length >= 1, 'in the dead-letter stream before (ingest refused one write of it)');
  assert.deepEqual(await inStream(stack.names.eventsStream), [], 'the canonical log holds only ciphertext of it');
  assert.deepEqual(await inArchive(), [], 'the archive never had it in the clear');
  const dead = await stack.pool.query<{ code: string }>('SELECT code FROM projection_dead_letters WHERE agent_id = $1', ['e2']);
  assert.deepEqual(dead.rows.map((x) => x.code), ['NOT_OWNER']);

  const e = await stack.cli(['erase', 'e1', id, '--reason', 'data subject request #42', '--operator', 'alice', '--json']);
  assert.equal(e.code, 0, e.err + e.out);
  const out = JSON.parse(e.out) as { erased: { memoryId: string; keyDestroyed: boolean }[]; scrubbedMessages: number };
  assert.deepEqual(out.erased.map((x) => [x.memoryId, x.keyDestroyed]), [[id, true]]);
  assert.ok(out.scrubbedMessages >= 4, `ingress and dead-letter messages deleted: ${out.scrubbedMessages}`);
  await stack.caughtUp();
  await sealedEverything();
  const backup = await stack.cli(['backup', '--out', join(dir, 'after'), '--json']);
  assert.equal(backup.code, 0, backup.err);

  // After: nowhere.
  assert.deepEqual(await inPostgres(), [], 'Postgres');
  assert.deepEqual(await inRedis(), [], 'Redis');
  for (const s of [stack.names.eventsStream, stack.names.ingressStream, stack.names.deadLetterStream]) assert.deepEqual(await inStream(s), [], s);
  assert.deepEqual(await inArchive(), [], 'archive');
  const bundle = await files(join(dir, 'after'));
  assert.ok(bundle.some((f) => f.endsWith('memories.copy.br')));
  for (const f of bundle) {
    const raw = await readFile(f);
    assert.ok(!(f.endsWith('.br') ? brotliDecompressSync(raw) : raw).includes(marker), `backup file ${f}`);
  }

  // What remains is the memory, erased, and the log of who did it.
  const row = (await stack.pool.query<{ text: string; tags: string[]; embedding: Buffer | null; forgotten_at: Date | null; erased_at: Date | null }>('SELECT text, tags, embedding, forgotten_at, erased_at FROM memories WHERE memory_id = $1', [id])).rows[0]!;
  assert.equal(row.text, ERASED_TEXT);
  assert.deepEqual(row.tags, []);
  assert.equal(row.embedding, null);
  assert.ok(row.forgotten_at && row.erased_at);
  const log = await call<{ items: ErasureView[] }>('GET', '/v1/erasures');
  assert.equal(log.status, 200);
  assert.equal(log.body.items.length, 1);
  assert.deepEqual({ ...log.body.items[0], eventId: undefined, erasedAt: undefined },
    { eventId: undefined, erasedAt: undefined, memoryId: id, agentId: 'e1', operator: 'alice', reason: 'data subject request #42', scrubbed: true, versions: 2, released: [] });
  const after = await call<RecallResponse>('POST', '/v1/agents/e1/recall', { tags: ['erase-me'] });
  assert.deepEqual(after.body.hits.map((h) => h.memory.memoryId), [keep.body.memoryId], 'recall finds the other memory only');
  const again = await stack.cli(['erase', 'e1', 'no-such-memory', '--reason', 'x']);
  assert.equal(again.code, 1);
  assert.match(again.err, /NOT_FOUND/);
});

test('erase - a blue/green rebuild after the erasure projects the memory erased (its key is gone, the log is ciphertext)', async () => {
  const rebuilt = await stack.cli(['rebuild', 'tiering', '--as', 'tiering.v2', '--json']);
  assert.equal(rebuilt.code, 0, rebuilt.err);
  const { schema } = JSON.parse(rebuilt.out.trim().split('\n').pop()!) as { schema: string };
  const rows = await stack.pool.query<{ memory_id: string; text: string; erased: boolean }>(`SELECT memory_id, text, erased_at IS NOT NULL AS erased FROM ${quoteIdent(schema)}.memories WHERE agent_id = 'e1' ORDER BY text`);
  const erased = rows.rows.filter((m) => m.erased);
  assert.equal(erased.length, 1);
  assert.equal(erased[0]!.text, ERASED_TEXT);
  const v2log = await stack.pool.query<{ operator: string }>(`SELECT operator FROM ${quoteIdent(schema)}.erasures`);
  assert.deepEqual(v2log.rows.map((x) => x.operator), ['alice']);
  await stack.caughtUp();
  assert.deepEqual(await inPostgres(), [], 'no schema, the rebuilt one included, holds it');
  assert.deepEqual(await inRedis(), [], 'nor the rebuilt version\'s hot copies');
});
