// farmbrain consolidation benchmark (a measurement, not a timed test): the demo fleet
// trades on a fresh stack (tiering, ingest, gateway) until its agents have written many
// lessons, reflections and observations; then every agent's memories are consolidated
// (POST /v1/agents/:id/memories/consolidate, default thresholds) and recall is measured
// before and after on the same queries.
//
// Queries: one per distinct (symbol, regime, strategy) setup among an agent's lessons and
// reflections, worded as the demo agent words its own recall before a decision
// (`<symbol> <regime> <strategy> entry lessons risk`, k = 5).
//
// Figures, per query then averaged:
// - redundant slots: share of the k hits that are a near-duplicate of a hit ranked above
//   them (same kind and tags, cosine >= 0.9: the planner's own test, judged pair by pair);
//   a redundant slot tells the agent nothing new;
// - distinct setups: how many different (kind, tags) the k hits cover;
// - on-setup share: share of hits carrying the query's symbol and regime (relevance kept?);
// - evidence per query: original memories the k hits stand for (a canonical counts its evidence).
// Plus how many memories consolidation removed from recall.
//
//   node bench/consolidation.mjs [--seconds 90] [--agents 6] [--tick-ms 20] [--k 5]
import { mkdirSync, writeFileSync } from 'node:fs';
import { fromBytes } from '../packages/platform/dist/index.js';
import { TestStack, waitFor } from '../packages/testing/dist/index.js';
import { demoScopePolicy, startDemoFleet } from '../apps/demo/dist/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 90);
const AGENTS = arg('agents', 6);
const TICK_MS = arg('tick-ms', 20);
const K = arg('k', 5);
const NEAR = 0.9;

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const mean = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const r3 = (x) => Math.round(x * 1000) / 1000;

async function post(stack, path, body) {
  const r = await fetch(`${stack.gatewayUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

/** The queries: one per distinct (symbol, regime, strategy) of each agent's lessons and reflections. */
async function queriesOf(stack, agents) {
  const rows = (await stack.pool.query(
    `SELECT agent_id, tags FROM memories WHERE agent_id = ANY($1) AND kind IN ('lesson', 'reflection') AND forgotten_at IS NULL AND consolidated_into IS NULL`, [agents])).rows;
  const seen = new Map();
  for (const r of rows) {
    const [symbol, regime, , strategy] = r.tags;
    if (!symbol || !regime || !strategy) continue;
    seen.set(`${r.agent_id}|${symbol}|${regime}|${strategy}`, { agentId: r.agent_id, symbol, regime, strategy });
  }
  return [...seen.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function measure(stack, queries, token) {
  const per = [];
  for (const q of queries) {
    const r = await post(stack, `/v1/agents/${q.agentId}/recall`, { query: `${q.symbol} ${q.regime} ${q.strategy} entry lessons risk`, k: K, ...(token ? { consistency: token } : {}) });
    const ids = r.hits.map((h) => h.memory.memoryId);
    const rows = new Map((await stack.pool.query('SELECT memory_id, kind, tags, embedding, evidence_count FROM memories WHERE memory_id = ANY($1)', [ids])).rows.map((x) => [x.memory_id, x]));
    const hits = ids.map((id) => rows.get(id)).filter(Boolean);
    let redundant = 0;
    hits.forEach((h, i) => {
      const key = `${h.kind}|${[...h.tags].sort().join(',')}`;
      if (!h.embedding) return;
      const v = fromBytes(h.embedding);
      if (hits.slice(0, i).some((p) => p.embedding && `${p.kind}|${[...p.tags].sort().join(',')}` === key && dot(v, fromBytes(p.embedding)) >= NEAR)) redundant++;
    });
    per.push({
      hits: hits.length,
      redundant: hits.length ? redundant / hits.length : 0,
      setups: new Set(hits.map((h) => `${h.kind}|${[...h.tags].sort().join(',')}`)).size,
      onSetup: hits.length ? hits.filter((h) => h.tags.includes(q.symbol) && h.tags.includes(q.regime)).length / hits.length : 0,
      evidence: hits.reduce((s, h) => s + h.evidence_count, 0),
    });
  }
  return {
    queries: per.length,
    redundantSlotShare: r3(mean(per.map((p) => p.redundant))),
    queriesWithARedundantSlot: r3(per.filter((p) => p.redundant > 0).length / Math.max(1, per.length)),
    distinctSetupsPerQuery: r3(mean(per.map((p) => p.setups))),
    onSetupShare: r3(mean(per.map((p) => p.onSetup))),
    evidencePerQuery: r3(mean(per.map((p) => p.evidence))),
  };
}

async function liveCounts(stack) {
  const r = await stack.pool.query(`SELECT kind, count(*)::int AS n FROM memories WHERE forgotten_at IS NULL AND consolidated_into IS NULL GROUP BY kind ORDER BY kind`);
  return Object.fromEntries(r.rows.map((x) => [x.kind, x.n]));
}

async function main() {
  const stack = new TestStack({ env: { FB_SCOPE_POLICY: JSON.stringify(demoScopePolicy(AGENTS)) } });
  await stack.connect();
  try {
    await stack.start('tiering');
    await stack.start('ingest');
    await stack.start('gateway');
    const fleet = await startDemoFleet({ natsUrl: stack.natsUrl, namespace: stack.namespace, partitions: stack.names.partitions, gateway: stack.gatewayUrl, agents: AGENTS, tickMs: TICK_MS, seed: 42, log: () => {} });
    const t0 = Date.now();
    await waitFor('the fleet to trade', () => Date.now() - t0 > SECONDS * 1000, SECONDS * 1000 + 60_000, 500);
    await fleet.stop();
    await stack.caughtUp();
    const agents = [...fleet.agents, fleet.riskDesk];

    const queries = await queriesOf(stack, fleet.agents);
    const liveBefore = await liveCounts(stack);
    const before = await measure(stack, queries);

    let removed = 0;
    let groups = 0;
    let token;
    const byAgent = {};
    const t1 = performance.now();
    for (const a of agents) {
      const r = await post(stack, `/v1/agents/${a}/memories/consolidate`, {});
      removed += r.removedFromRecall;
      groups += r.groups.length;
      byAgent[a] = { candidates: r.candidates, groups: r.groups.length, removedFromRecall: r.removedFromRecall, largestGroup: Math.max(0, ...r.groups.map((g) => g.mergedIds.length)) };
      if (r.consistencyToken) token = r.consistencyToken; // one partition per agent; the last read waits on each below
      if (r.consistencyToken) await post(stack, `/v1/agents/${a}/recall`, { k: 1, consistency: r.consistencyToken });
    }
    const consolidateMs = Math.round(performance.now() - t1);
    await stack.caughtUp();
    const liveAfter = await liveCounts(stack);
    const after = await measure(stack, queries, token);
    const dead = (await stack.pool.query('SELECT count(*)::int AS n FROM projection_dead_letters')).rows[0].n;

    const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    const result = {
      at: new Date().toISOString(), seconds: SECONDS, agents: AGENTS, tickMs: TICK_MS, k: K, fleet: fleet.stats,
      memoriesInRecall: { before: total(liveBefore), after: total(liveAfter), byKindBefore: liveBefore, byKindAfter: liveAfter },
      consolidation: { groups, removedFromRecall: removed, ms: consolidateMs, deadLetters: dead, byAgent },
      recall: { before, after },
    };
    console.log(JSON.stringify(result, null, 2));
    const rows = [
      ['memories in recall', total(liveBefore), total(liveAfter)],
      ['redundant slots in top-k (share)', before.redundantSlotShare, after.redundantSlotShare],
      ['queries with a redundant slot', before.queriesWithARedundantSlot, after.queriesWithARedundantSlot],
      ['distinct setups in top-k', before.distinctSetupsPerQuery, after.distinctSetupsPerQuery],
      ['hits on the query\'s symbol+regime', before.onSetupShare, after.onSetupShare],
      ['original memories behind top-k', before.evidencePerQuery, after.evidencePerQuery],
    ];
    console.log(`\nconsolidation of the demo fleet (${AGENTS} agents, ${SECONDS} s at ${TICK_MS} ms/tick): ${groups} groups, ${removed} memories out of recall, ${queries.length} queries, k=${K}`);
    for (const [what, b, a] of rows) console.log(`${what.padEnd(38)} ${String(b).padStart(8)} -> ${String(a).padStart(8)}`);
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL(`./results/consolidation-${result.at.replace(/[:.]/g, '-')}.json`, import.meta.url), JSON.stringify(result, null, 2));
  } finally {
    await stack.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
