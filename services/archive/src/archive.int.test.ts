import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { ArchiveReader, archiveSchema, FsArchiveStore, headerPairs, readManifest, sha256Hex, type ArchivedMessage } from '@farmbrain/archive';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { publishSession, readStream, TestStack, tradingSession, waitFor } from '@farmbrain/testing';

// The archive is a second copy of the log: every canonical message of every partition, in order, once,
// verbatim, in checksummed segments described by the manifest and by sidecars; a crash in the middle of
// a seal loses nothing and duplicates nothing.
const PARTITIONS = 4;
const stack = new TestStack({
  partitions: PARTITIONS, archive: true,
  env: { FB_ARCHIVE_SEGMENT_MAX_MESSAGES: '20', FB_ARCHIVE_SEAL_AFTER_MS: '300', FB_ARCHIVE_BATCH: '16' },
});
let pool: Pool;
let store: FsArchiveStore;

before(async () => {
  await stack.connect();
  pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, archiveSchema(stack.names), { max: 2 });
  store = new FsArchiveStore(stack.archiveDir!);
  await stack.start('ingest');
  await stack.start('tiering');
  await stack.start('archive');
});
after(async () => {
  await pool?.end();
  await stack.destroy();
});

const pendingCount = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM archive_pending')).rows[0]!.n;
const partitionOf = (subject: string) => Number(subject.split('.')[2]);
const plain = (m: Pick<ArchivedMessage, 'seq' | 'subject' | 'headers' | 'data'>) => ({ seq: m.seq, subject: m.subject, headers: m.headers, data: Buffer.from(m.data).toString('base64') });

async function everythingSealed(): Promise<void> {
  await stack.caughtUp();
  await waitFor('every pending message to be sealed', async () => (await pendingCount()) === 0, 30_000, 50);
}

/** Segment keys in the store that the manifest does not know: a seal that wrote its objects but did not commit. */
async function unfinishedSeals(): Promise<string[]> {
  const keys = (await store.list(`${stack.namespace}/segments/`)).filter((k) => k.endsWith('.seg'));
  const known = new Set((await pool.query<{ key: string }>('SELECT key FROM archive_segments')).rows.map((r) => r.key));
  return keys.filter((k) => !known.has(k));
}

/**
 * The archive holds exactly the canonical stream: per partition, the same messages in the same order with the
 * same subject, headers and data, each once, read from the manifest and from the sidecars alike; segments follow
 * each other without a gap, their bytes match their sha256, and the store holds nothing else.
 */
async function assertArchiveIsTheLog(): Promise<number> {
  const stream = await readStream(stack.js, stack.jsm, stack.names.eventsStream);
  const fromManifest = new ArchiveReader({ store, namespace: stack.namespace, pool });
  const fromSidecars = new ArchiveReader({ store, namespace: stack.namespace });
  let segments = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const want = stream.filter((m) => partitionOf(m.subject) === p).map((m) => plain({ seq: m.seq, subject: m.subject, headers: headerPairs(m.headers), data: m.data }));
    assert.ok(want.length > 0, `partition ${p} has messages`);
    for (const [how, reader] of [['manifest', fromManifest], ['sidecars', fromSidecars]] as const) {
      const got: ReturnType<typeof plain>[] = [];
      for await (const chunk of reader.messages(p, 0, { chunk: 7 })) got.push(...chunk.map(plain));
      assert.deepEqual(got, want, `partition ${p}, read by the ${how}: the archive is the log`);
    }
    const manifest = await readManifest(pool, p);
    assert.deepEqual(await fromSidecars.segments(p), manifest, `partition ${p}: sidecars and manifest agree`);
    manifest.forEach((s, i) => assert.equal(s.afterSeq, i === 0 ? 0 : manifest[i - 1]!.lastSeq, `partition ${p}: segment ${s.key} follows the one before`));
    assert.equal(manifest.reduce((n, s) => n + s.messages, 0), want.length);
    for (const s of manifest) assert.equal(sha256Hex(await store.get(s.key)), s.sha256, `${s.key}: its sha256`);
    const objects = await store.list(`${stack.namespace}/segments/p${String(p).padStart(4, '0')}/`);
    assert.deepEqual(objects, manifest.flatMap((s) => [s.key.replace(/\.seg$/, '.json'), s.key]).sort(), `partition ${p}: no other object in the store`);
    segments += manifest.length;
  }
  return segments;
}

test('archive - every canonical message of every partition is in the segments exactly once, in order, verbatim', async () => {
  await publishSession(stack.js, stack.names, tradingSession({ agents: 12, eventsPerAgent: 120, seed: 3 }), { perMessage: 5 });
  // What anyone may publish around ingest is archived as it is too: undecodable bodies, repeated and odd headers.
  for (let i = 0; i < 6; i++) {
    const h = natsHeaders();
    h.append('X-Odd', `value ${i}: ünïcødé 🚀`);
    h.append('X-Odd', 'second value');
    h.set('Nats-Msg-Id', `raw-${i}`);
    await stack.js.publish(stack.names.eventsSubject(`raw-agent-${i}`), new Uint8Array([0xff, i, 0, 0xfe]), { headers: h });
  }
  await everythingSealed();
  const segments = await assertArchiveIsTheLog();
  assert.ok(segments > PARTITIONS * 2, `several segments per partition (${segments})`);
  assert.match(stack.output('archive'), /"msg":"segment sealed"/);
});

test('archive - SIGKILL while a segment is being sealed: the restart finishes that seal; still exactly once, no gap', async () => {
  const publishing = publishSession(stack.js, stack.names, tradingSession({ agents: 12, eventsPerAgent: 240, seed: 9, prefix: 'k' }), { perMessage: 4, pauseMs: 40 });
  let hit: string[] = [];
  let pendingAtKill = 0;
  let attempts = 0;
  // Kill when the store shows a segment the manifest does not know yet (a seal between its objects and its
  // commit); the kill may still come just after the commit, so try again until one came before it.
  while (hit.length === 0 && attempts < 10) {
    attempts++;
    await waitFor('a seal in progress', async () => (await unfinishedSeals()).length > 0, 30_000, 1);
    await stack.kill('archive', 'SIGKILL');
    hit = await unfinishedSeals();
    pendingAtKill = await pendingCount();
    await stack.start('archive');
  }
  assert.ok(hit.length > 0, `a kill struck between a segment's objects and its manifest row (${attempts} attempts)`);
  assert.ok(pendingAtKill > 0, 'messages were pending when it was killed');
  await publishing;
  await everythingSealed();
  await assertArchiveIsTheLog();
  const known = new Set((await pool.query<{ key: string }>('SELECT key FROM archive_segments')).rows.map((r) => r.key));
  assert.ok(hit.every((k) => known.has(k)), 'the interrupted seal was finished under the same key');
  assert.match(stack.output('archive'), /"resuming":true/);
});
