import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishSession, TestStack, tradingSession } from '@farmbrain/testing';

// An agent exported from one deployment and imported into an empty one answers the same, recall included.
// Its events are a month old: an import is not refused for their age.
const OLD = Date.now() - 30 * 86_400_000;
const session = tradingSession({ agents: 3, eventsPerAgent: 150, seed: 9, baseTime: OLD, prefix: 'port' });
const source = new TestStack({ partitions: 4, env: { FB_MAX_PAST_SKEW_MS: String(90 * 86_400_000) } });
const target = new TestStack({ partitions: 4 });
let dir = '';


/** Times measured from now (a hit's age) differ by when the question is asked; everything else must not. */
const timeless = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(timeless) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'ageMs').map(([k, x]) => [k, timeless(x)])) : v;

/** What the gateway answers about the agent: state, every listing, then a recall and an outcome-linked recall. */
async function answers(stack: TestStack, agentId: string): Promise<unknown> {
  const state = await stack.get<Record<string, unknown>>(`/v1/agents/${agentId}`);
  assert.equal(state.status, 200, JSON.stringify(state.body));
  const listings = {
    state: { ...state.body, source: undefined },
    decisions: await stack.all(`/v1/agents/${agentId}/decisions`),
    trades: await stack.all(`/v1/agents/${agentId}/trades`),
    positions: await stack.all(`/v1/agents/${agentId}/positions`),
    checkpoints: await stack.all(`/v1/agents/${agentId}/checkpoints`),
    memories: await stack.all(`/v1/agents/${agentId}/memories?includeForgotten=true`),
  };
  // A recall is itself recorded (it counts as an access of what it returns): asked last.
  const recall = await stack.post<{ hits: { memory: unknown; score: number; parts: unknown }[] }>(`/v1/agents/${agentId}/recall`, { query: 'saw BTC move', k: 5 });
  assert.equal(recall.status, 200, JSON.stringify(recall.body));
  assert.ok(recall.body.hits.length > 0);
  const similar = await stack.post<Record<string, unknown>>(`/v1/agents/${agentId}/recall/decisions`, { situation: [0.5, 0.5, 0.5], k: 5 });
  assert.equal(similar.status, 200, JSON.stringify(similar.body));
  return timeless({ ...listings, recall: recall.body.hits.map((h) => ({ memory: h.memory, score: h.score, parts: h.parts })), similar: similar.body });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fb-agent-'));
  for (const s of [source, target]) {
    await s.connect();
    await s.start('ingest');
    await s.start('tiering');
    await s.start('gateway');
  }
});
after(async () => {
  await Promise.all([source.destroy(), target.destroy()]);
  await rm(dir, { recursive: true, force: true });
});

test('agent file - exported from one deployment and imported into an empty one, the agent answers the same, recall included', async () => {
  await publishSession(source.js, source.names, session, { perMessage: 8 });
  await source.caughtUp();
  const agentId = session[1]![0]!.agentId;
  const file = join(dir, `${agentId}.fbagent.jsonl`);
  const ex = await source.cli(['export', agentId, '--out', file, '--json']);
  assert.equal(ex.code, 0, ex.err);
  const text = await readFile(file, 'utf8');
  assert.equal(text.split('\n').filter((l) => l.startsWith('{"event"')).length, session[1]!.length, 'every event of the agent is in the file');

  const before = await answers(source, agentId);
  const im = await target.cli(['import', file, '--json']);
  assert.equal(im.code, 0, im.err);
  const r = JSON.parse(im.out) as { published: number; differences: string[]; memories: number };
  assert.equal(r.published, session[1]!.length);
  assert.ok(r.memories > 3);
  assert.deepEqual(await answers(target, agentId), before, 'the imported agent answers as the source did');
  assert.equal((await target.all('/v1/agents')).length, 1, 'only that agent came along');

  // Importing again is refused; merged, it applies nothing twice.
  const again = await target.cli(['import', file, '--json']);
  assert.equal(again.code, 1);
  assert.match(again.err, /AGENT_EXISTS/);
  const merged = await target.cli(['import', file, '--merge', '--json']);
  assert.equal(merged.code, 0, merged.err);
  const decisions = (await target.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions WHERE agent_id = $1', [agentId])).rows[0]!.n;
  assert.equal(decisions, session[1]!.filter((e) => e.type === 'decision_made').length);
});

test('agent file - a file cut short or changed is refused before anything is published', async () => {
  const agentId = session[2]![0]!.agentId;
  const file = join(dir, 'cut.jsonl');
  assert.equal((await source.cli(['export', agentId, '--out', file])).code, 0);
  const lines = (await readFile(file, 'utf8')).split('\n');
  await writeFile(file, lines.slice(0, 20).join('\n'));
  const cut = await target.cli(['import', file, '--json']);
  assert.equal(cut.code, 1);
  assert.match(cut.err, /INVALID_AGENT_FILE/);
  await writeFile(file, lines.map((l, i) => (i === 3 ? l.replace(/"event":"./, '"event":"A') : l)).join('\n'));
  const changed = await target.cli(['import', file, '--json']);
  assert.equal(changed.code, 1);
  assert.match(changed.err, /checksum/);
  assert.equal((await target.pool.query('SELECT 1 FROM agents WHERE agent_id = $1', [agentId])).rowCount, 0, 'nothing of it arrived');
});
