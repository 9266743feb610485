import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ANALYTICS_PROJECTION, analyticsSchema, readAgentSummaries, readCalibration, readIndicators, readRollups } from '@farmbrain/analytics';
import { decodeBatch, type EventType, type FarmEvent, type PayloadInput } from '@farmbrain/contracts';
import { connectPostgres, COMMON_DEFAULTS, type Pool } from '@farmbrain/platform';
import { makeEvent, publishSession, readStream, TestStack, waitFor } from '@farmbrain/testing';

// A deterministic fleet: 12 agents in 4 teams over about two hours of event time (from half past an hour 2.5 to 3.5 hours ago, well
// within ingest's past skew): decisions of every action and confidence, trades, closes naming their decisions,
// memory writes, recalls with latencies and hot/warm hits, consolidations; some agents move to another team
// half way, one registers only half way (its first events count under team '').
const AGENTS = 12;
const PER_AGENT = 260;
const NOW = Date.now();
// Half past an hour, between 2.5 and 3.5 hours ago: the ~1.8 hours of events then always span three hour buckets
// (and end more than half an hour ago), whatever the time of day the test runs at.
const BASE = Math.floor(NOW / 3_600_000) * 3_600_000 - 3 * 3_600_000 + 1_800_000;

function workload(): FarmEvent[][] {
  let x = 7;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  let counter = 0;
  const uuid = (at: number) => {
    counter++;
    const t = hex(at, 12);
    return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(counter % 4096, 3)}-${hex(0x8000 | ((counter >>> 12) & 0x3fff), 4)}-${hex(Math.floor(rnd() * 2 ** 48), 12)}`;
  };
  const out: FarmEvent[][] = [];
  for (let a = 0; a < AGENTS; a++) {
    const agentId = `ag-${a}`;
    const evs: FarmEvent[] = [];
    let seq = 0;
    let at = BASE + a * 1000;
    const mk = <T extends EventType>(type: T, data: PayloadInput<T>) => {
      seq += 1;
      at += 1 + Math.floor(rnd() * 50_000);
      const e = makeEvent(agentId, type, data, { eventId: uuid(at), producerSeq: seq, occurredAt: at });
      evs.push(e);
      return e;
    };
    const register = (team: string) => mk('agent_registered', { name: `Agent ${a}`, team, strategy: 'test', config: {} });
    if (a !== AGENTS - 1) register(`team-${a % 4}`);
    const open: string[] = [];
    const memories: string[] = [];
    const recalls: string[] = [];
    while (evs.length < PER_AGENT) {
      const i = evs.length;
      if (i === 130) {
        if (a % 3 === 0) register(`team-${(a + 1) % 4}`);
        if (a === AGENTS - 1) register('team-late');
      }
      if (i === 100 || i === 200) {
        mk('memories_consolidated', { canonicalMemoryId: `c-${agentId}-${i}`, mergedIds: memories.slice(-3).concat(`gone-${i}`), text: 'merged', representativeId: '', method: 'representative', similarityThreshold: 0.9, reason: 'test' });
        continue;
      }
      const r = rnd();
      if (r < 0.4) {
        const d = mk('decision_made', {
          symbol: 'BTC', action: pick(['buy', 'sell', 'hold', 'close'] as const), size: 1, confidence: Math.round(rnd() * 100) / 100, rationale: 'r', situation: [],
          memoryIds: rnd() < 0.5 ? memories.slice(-1 - Math.floor(rnd() * 2)) : [], recallIds: rnd() < 0.6 ? recalls.slice(-1 - Math.floor(rnd() * 2)) : [],
        });
        if (rnd() < 0.7) open.push(d.eventId);
      } else if (r < 0.52) {
        mk('trade_executed', { orderId: `o-${seq}`, symbol: 'BTC', side: pick(['buy', 'sell'] as const), qty: 1 + Math.floor(rnd() * 3), price: 100 + Math.round(rnd() * 1000) / 10, fees: 0.1, decisionId: open.at(-1) ?? '' });
      } else if (r < 0.64 && open.length > 0) {
        // Names its own open decisions, sometimes again one already scored, one of another agent and one unknown.
        const ids = open.splice(0, 1 + Math.floor(rnd() * 3));
        if (rnd() < 0.2) ids.push(ids[0]!.toUpperCase());
        if (rnd() < 0.1 && out.length > 0) ids.push(out[0]!.find((e) => e.type === 'decision_made')!.eventId);
        if (rnd() < 0.1) ids.push('no-such-decision');
        mk('position_closed', { symbol: 'BTC', realizedPnl: Math.round((rnd() - 0.45) * 2000) / 10, decisionIds: ids, exitPrice: 101 });
      } else if (r < 0.74) {
        const e = mk('memory_stored', { memoryId: `m-${agentId}-${seq}`, kind: 'observation', text: 'seen', tags: ['btc'], importance: 0.5, embedding: [], scope: 'agent', scopeId: '', expiresAt: 0, sourceEventIds: [], situation: [] });
        memories.push((e.data as { memoryId: string }).memoryId);
      } else if (r < 0.78 && memories.length > 0) {
        mk('memory_updated', { memoryId: memories.at(-1)!, tags: ['reviewed'], replaceTags: false, embedding: [], importance: 0.7 });
      } else {
        const hits = Array.from({ length: Math.floor(rnd() * 6) }, (_, k) => ({ memoryId: memories[k] ?? `m-${k}`, version: 1, score: 0.5, tier: rnd() < 0.6 ? 'hot' as const : 'warm' as const }));
        const latencyMs = rnd() < 0.1 ? 0 : Math.round(Math.exp(rnd() * 9) * 10) / 100;
        const e = mk('memory_recalled', { queryText: 'q', queryVector: [], filters: {}, k: 5, hits, embeddingModel: '', latencyMs });
        recalls.push(e.eventId);
      }
    }
    out.push(evs);
  }
  return out;
}

const session = workload();
const PUBLISHED = session.flat().length;
const stack = new TestStack({ env: { FB_ANALYTICS_BATCH: '5', FB_ALERTS: 'off', FB_ANALYTICS_TIER_SAMPLE_MS: '0' } });
let db: Pool;

before(async () => {
  await stack.connect();
  db = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, analyticsSchema(stack.names), { max: 4 });
  await stack.start('ingest');
  await stack.start('analytics');
});
after(async () => {
  await db?.end();
  await stack.destroy();
});

// ---- The oracle: the rollups recomputed plainly from the events read back from the log. ----

const COLS = ['decisions_buy', 'decisions_sell', 'decisions_hold', 'decisions_close', 'trades', 'notional', 'closes', 'wins', 'pnl', 'pnl_abs', 'scored', 'scored_wins',
  'brier_sum', 'cited_scored', 'cited_wins', 'memory_writes', 'recalls', 'recall_hits', 'hot_hits', 'useful_recalls', 'consolidations', 'merged'] as const;
const REAL = new Set<string>(['notional', 'pnl', 'pnl_abs', 'brier_sum', 'confidence_sum']);
const GRAINS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
type Table = Map<string, Record<string, number>>;

/** Every event on the canonical log, first copy of each id, in stream order, with its partition. */
async function logEvents(): Promise<{ events: FarmEvent[]; lastSeqOf: Map<number, number> }> {
  const seen = new Set<string>();
  const events: FarmEvent[] = [];
  const lastSeqOf = new Map<number, number>();
  for (const m of await readStream(stack.js, stack.jsm, stack.names.eventsStream)) {
    const p = Number(m.subject.split('.')[2]);
    lastSeqOf.set(p, Math.max(lastSeqOf.get(p) ?? 0, m.seq));
    for (const { event } of decodeBatch(m.data)) {
      if (!event || seen.has(event.eventId.toLowerCase())) continue;
      seen.add(event.eventId.toLowerCase());
      events.push(event);
    }
  }
  return { events, lastSeqOf };
}

function oracle(events: readonly FarmEvent[]): { rollups: Table; calibration: Table; latency: Table } {
  const rollups: Table = new Map();
  const calibration: Table = new Map();
  const latency: Table = new Map();
  const team = new Map<string, string>();
  const decisions = new Map<string, { agentId: string; confidence: number; cites: boolean }>();
  const keysOf = (agentId: string, at: number): string[] => {
    const keys: string[] = [];
    for (const [grain, ms] of Object.entries(GRAINS)) {
      const bucket = Math.floor(at / ms) * ms;
      keys.push(`agent|${agentId}|${grain}|${bucket}`, `team|${team.get(agentId) ?? ''}|${grain}|${bucket}`, `fleet||${grain}|${bucket}`);
    }
    return keys;
  };
  const bump = (t: Table, keys: string[], col: string, v: number) => {
    for (const k of keys) {
      const row = t.get(k) ?? {};
      row[col] = (row[col] ?? 0) + v;
      t.set(k, row);
    }
  };
  for (const e of events) {
    const keys = () => keysOf(e.agentId, e.occurredAt);
    if (e.type === 'agent_registered') team.set(e.agentId, e.data.team);
    else if (e.type === 'decision_made') {
      const k = keys();
      bump(rollups, k, `decisions_${e.data.action}`, 1);
      bump(rollups, k, 'useful_recalls', new Set(e.data.recallIds).size);
      decisions.set(e.eventId.toLowerCase(), { agentId: e.agentId, confidence: e.data.confidence, cites: e.data.memoryIds.length > 0 });
    } else if (e.type === 'trade_executed') {
      bump(rollups, keys(), 'trades', 1);
      bump(rollups, keys(), 'notional', e.data.qty * e.data.price);
    } else if (e.type === 'position_closed') {
      const k = keys();
      const win = e.data.realizedPnl > 0 ? 1 : 0;
      bump(rollups, k, 'closes', 1);
      bump(rollups, k, 'wins', win);
      bump(rollups, k, 'pnl', e.data.realizedPnl);
      bump(rollups, k, 'pnl_abs', Math.abs(e.data.realizedPnl));
      const named = new Set(e.data.decisionIds.map((id) => id.toLowerCase()));
      for (const id of named) {
        const d = decisions.get(id);
        if (!d || d.agentId !== e.agentId) continue;
        bump(rollups, k, 'scored', 1);
        bump(rollups, k, 'scored_wins', win);
        bump(rollups, k, 'brier_sum', (d.confidence - win) * (d.confidence - win));
        bump(rollups, k, 'cited_scored', d.cites ? 1 : 0);
        bump(rollups, k, 'cited_wins', d.cites ? win : 0);
        const bin = Math.min(9, Math.floor(Math.round(d.confidence * 100) / 10));
        const ck = k.map((x) => `${x}|${bin}`);
        bump(calibration, ck, 'n', 1);
        bump(calibration, ck, 'wins', win);
        bump(calibration, ck, 'confidence_sum', d.confidence);
      }
    } else if (e.type === 'memory_stored' || e.type === 'memory_updated') bump(rollups, keys(), 'memory_writes', 1);
    else if (e.type === 'memory_recalled') {
      const k = keys();
      bump(rollups, k, 'recalls', 1);
      bump(rollups, k, 'recall_hits', e.data.hits.length);
      bump(rollups, k, 'hot_hits', e.data.hits.filter((h) => h.tier === 'hot').length);
      if (e.data.latencyMs > 0) {
        // Bin 0: under 1 ms; bin i: [2^((i-1)/2), 2^(i/2)) ms; 41: the rest.
        let bin = 0;
        if (e.data.latencyMs >= 1) for (bin = 1; bin < 41 && e.data.latencyMs >= 2 ** (bin / 2); bin++);
        bump(latency, k.map((x) => `${x}|${bin}`), 'n', 1);
      }
    } else if (e.type === 'memories_consolidated') {
      bump(rollups, keys(), 'consolidations', 1);
      bump(rollups, keys(), 'merged', e.data.mergedIds.length);
    }
  }
  return { rollups, calibration, latency };
}

/** What the tables hold, summed over partitions, keyed as the oracle keys it. */
async function stored(): Promise<{ rollups: Table; calibration: Table; latency: Table }> {
  const read = async (table: string, cols: readonly string[], bin: boolean): Promise<Table> => {
    const r = await db.query<Record<string, unknown>>(
      `SELECT scope, scope_id, grain, (extract(epoch FROM bucket) * 1000)::bigint AS b${bin ? ', bin' : ''}, ${cols.map((c) => `sum(${c})::float8 AS ${c}`).join(', ')}
         FROM ${table} GROUP BY scope, scope_id, grain, bucket${bin ? ', bin' : ''}`);
    const out: Table = new Map();
    for (const row of r.rows) out.set(`${row.scope}|${row.scope_id}|${row.grain}|${row.b}${bin ? `|${row.bin}` : ''}`, Object.fromEntries(cols.map((c) => [c, Number(row[c])])));
    return out;
  };
  return { rollups: await read('rollups', COLS, false), calibration: await read('rollup_calibration', ['n', 'wins', 'confidence_sum'], true), latency: await read('rollup_latency', ['n'], true) };
}

function assertSame(name: string, got: Table, want: Table, cols: readonly string[]): void {
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${name}: the same buckets`);
  for (const [k, w] of want) {
    const g = got.get(k)!;
    for (const c of cols) {
      const a = g[c] ?? 0;
      const b = w[c] ?? 0;
      const ok = REAL.has(c) ? Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)) : a === b;
      assert.ok(ok, `${name} ${k} ${c}: stored ${a}, recomputed from the log ${b}`);
    }
  }
}

const claims = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM projection_events WHERE projection = $1', [ANALYTICS_PROJECTION]).catch(() => ({ rows: [{ n: '0' }] }))).rows[0]!.n);
const checkpoints = async () => new Map((await db.query<{ partition: number; last_seq: string }>('SELECT partition, last_seq FROM projection_checkpoints WHERE projection = $1', [ANALYTICS_PROJECTION])).rows.map((r) => [r.partition, Number(r.last_seq)]));
const COUNTED: ReadonlySet<string> = new Set(['agent_registered', 'decision_made', 'trade_executed', 'position_closed', 'memory_stored', 'memory_updated', 'memory_recalled', 'memories_consolidated']);

async function tables(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [t, key] of [['rollups', 'scope, scope_id, grain, bucket, partition'], ['rollup_calibration', 'scope, scope_id, grain, bucket, partition, bin'], ['rollup_latency', 'scope, scope_id, grain, bucket, partition, bin'],
    ['analytics_agents', 'agent_id'], ['analytics_decisions', 'decision_id']] as const) {
    const r = await db.query<{ n: number; rows: string }>(`SELECT count(*)::int AS n, coalesce(string_agg(to_jsonb(x)::text, E'\\n' ORDER BY ${key.split(', ').map((c) => `x.${c}`).join(', ')}), '') AS rows FROM ${t} x`);
    out[t] = `${r.rows[0]!.n}\n${r.rows[0]!.rows}`;
  }
  return out;
}

let beforeRebuild: Record<string, string> = {};
let want: Awaited<ReturnType<typeof oracle>>;

test('analytics - after a SIGKILL mid-stream, every bucket of every grain and scope equals a recomputation from the log', async () => {
  const publishing = publishSession(stack.js, stack.names, session, { perMessage: 4, pauseMs: 5 });
  const atKill = await waitFor('analytics to be mid-stream', async () => {
    const n = await claims();
    return n > 0.2 * PUBLISHED ? n : false;
  }, 120_000, 5);
  assert.equal(await stack.kill('analytics', 'SIGKILL'), null, 'killed by the signal');
  const cps = await checkpoints();
  const appliedAtKill = await claims();
  await publishing;
  await stack.start('analytics');
  await stack.caughtUp(180_000);

  const { events, lastSeqOf } = await logEvents();
  assert.equal(events.length, PUBLISHED, 'ingest put every published event on the log');
  const counted = events.filter((e) => COUNTED.has(e.type)).length;
  assert.ok(appliedAtKill >= atKill && appliedAtKill < counted, `the kill came mid-stream: ${appliedAtKill} of ${counted} events applied`);
  assert.ok([...cps.values()].some((s) => s > 0), 'a checkpoint above 0 at the kill');
  assert.ok([...lastSeqOf].some(([p, last]) => (cps.get(p) ?? 0) < last), `a checkpoint below its partition's end at the kill: ${JSON.stringify([...cps])} vs ${JSON.stringify([...lastSeqOf])}`);
  assert.equal(await claims(), counted, 'every event applied once');

  want = oracle(events);
  // The workload is what the comparison is worth: many buckets, every kind of figure non-zero.
  const fleetMinutes = [...want.rollups.keys()].filter((k) => k.startsWith('fleet||minute|'));
  assert.ok(fleetMinutes.length > 100, `${fleetMinutes.length} minute buckets`);
  assert.ok([...want.rollups.keys()].filter((k) => k.startsWith('fleet||hour|')).length >= 3, 'the workload spans three hour buckets');
  const teams = new Set([...want.rollups.keys()].filter((k) => k.startsWith('team|')).map((k) => k.split('|')[1]));
  assert.deepEqual([...teams].sort(), ['', 'team-0', 'team-1', 'team-2', 'team-3', 'team-late']);
  const fleet = (col: string) => [...want.rollups].filter(([k]) => k.startsWith('fleet||day|')).reduce((a, [, r]) => a + (r[col] ?? 0), 0);
  for (const c of COLS) assert.ok(fleet(c) > 0, `${c} > 0 in the workload`);

  const got = await stored();
  assertSame('rollups', got.rollups, want.rollups, COLS);
  assertSame('calibration', got.calibration, want.calibration, ['n', 'wins', 'confidence_sum']);
  assertSame('latency', got.latency, want.latency, ['n']);

  // The reads the gateway serves agree with it.
  const hours = await readRollups(db, { scope: 'fleet', id: '', grain: 'hour', from: BASE, to: NOW });
  const wantHours = [...want.rollups].filter(([k]) => k.startsWith('fleet||hour|')).sort(([a], [b]) => Number(a.split('|')[3]) - Number(b.split('|')[3]));
  assert.deepEqual(hours.map((h) => [h.bucket, h.decisions.total, h.scored, h.latency.n]), wantHours.map(([k, r]) => [
    Number(k.split('|')[3]), r.decisions_buy! + r.decisions_sell! + r.decisions_hold! + r.decisions_close!, r.scored ?? 0,
    [...want.latency].filter(([lk]) => lk.startsWith(`${k}|`)).reduce((a, [, l]) => a + l.n!, 0),
  ]));
  const cal = await readCalibration(db, { scope: 'fleet', id: '', from: BASE - 3_600_000, to: NOW });
  const wantBins = Array.from({ length: 10 }, (_, b) => [...want.calibration].filter(([k]) => k.startsWith('fleet||hour|') && k.endsWith(`|${b}`))
    .reduce((a, [, r]) => [a[0]! + r.n!, a[1]! + (r.wins ?? 0)], [0, 0]));
  assert.deepEqual(cal.bins.map((b) => [b.n, b.wins]), wantBins, 'the reliability curve');
  assert.equal(cal.n, fleet('scored'));
  assert.ok(Math.abs(cal.brier! - fleet('brier_sum') / fleet('scored')) < 1e-9);
  const ind = await readIndicators(db, { scope: 'fleet', id: '', windowMs: 4 * 3_600_000, now: NOW, tierBytes: 1000 });
  assert.equal(ind.decisionQuality.scored, fleet('scored'));
  assert.equal(ind.decisionQuality.decisions, fleet('decisions_buy') + fleet('decisions_sell') + fleet('decisions_hold') + fleet('decisions_close'));
  assert.equal(ind.learningProgress.samplesBefore + ind.learningProgress.samplesAfter, fleet('scored'));
  assert.notEqual(ind.learningProgress.verdict, 'insufficient', JSON.stringify(ind.learningProgress));
  assert.equal(ind.memoryEfficiency.hotHitRatio, fleet('hot_hits') / fleet('recall_hits'));
  assert.equal(ind.memoryEfficiency.bytesPerUsefulRecall, 1000 / fleet('useful_recalls'));
  const agents = await readAgentSummaries(db, { from: BASE, to: NOW });
  assert.equal(agents.length, AGENTS);
  assert.equal(agents.find((a) => a.agentId === `ag-${AGENTS - 1}`)?.team, 'team-late');
  assert.equal(agents.find((a) => a.agentId === 'ag-3')?.team, 'team-0', 'the team of the last registration');
  beforeRebuild = await tables();
});

test('analytics - a rebuild refuses while analytics runs, then replays the log into the same tables', async () => {
  const refused = await stack.cli(['analytics', 'rebuild', '--timeout', '0']);
  assert.equal(refused.code, 1, refused.out + refused.err);
  assert.match(refused.err, /ANALYTICS_RUNNING/);
  assert.deepEqual(await tables(), beforeRebuild, 'nothing dropped');

  await stack.kill('analytics', 'SIGTERM');
  const done = await stack.cli(['analytics', 'rebuild', '--json']);
  assert.equal(done.code, 0, done.out + done.err);
  assert.equal(JSON.parse(done.out).durablesDeleted, stack.names.partitions);
  assert.equal((await db.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [analyticsSchema(stack.names)])).rows[0].n, 0, 'the schema is gone');

  await stack.start('analytics');
  await stack.caughtUp(180_000);
  const after = await tables();
  for (const t of Object.keys(beforeRebuild)) {
    const [a, b] = [after[t]!.split('\n'), beforeRebuild[t]!.split('\n')];
    const i = a.findIndex((line, k) => line !== b[k]);
    assert.ok(i < 0 && a.length === b.length, `${t}: the same rows after the rebuild (first difference, line ${i}: ${a[i]} vs before ${b[i]})`);
  }
  const got = await stored();
  assertSame('rollups after rebuild', got.rollups, want.rollups, COLS);
  assertSame('calibration after rebuild', got.calibration, want.calibration, ['n', 'wins', 'confidence_sum']);
  assertSame('latency after rebuild', got.latency, want.latency, ['n']);
});
