// farmbrain benchmark: raw JetStream publish rate vs end-to-end rate (SDK → ingest →
// tiering → committed in Postgres and Redis), measured in the same run, plus the
// publish→queryable latency, the end-to-end rate again with 2 tiering instances, and
// a blue/green rebuild of tiering from the log (the real CLI); then recall over a
// large memory store (bench/recall.mjs).
// Prints a table and writes bench/results/<time>.json.
//
//   npm run bench                                   (pipeline, then recall: 1,000,000 memories, 100 agents)
//   BENCH_EVENTS=100000 npm run bench
//   npm run bench -- recall                         (recall only; node bench/run.mjs recall)
//   npm run bench -- recall --memories 50000 --agents 10
//   npm run bench -- pipeline                       (pipeline only)
//   npm run bench -- lifecycle                      (lifecycle only: cold compression, reads by tier, storage growth; bench/lifecycle.mjs)
//   npm run bench -- dashboard                      (dashboard only: first meaningful paint, SSE fan-out to 100 clients; bench/dashboard.mjs)
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { encodeEvent } from '../packages/contracts/dist/index.js';
import { FarmbrainAgent } from '../packages/sdk/dist/index.js';
import { makeEvent, TestStack, waitFor } from '../packages/testing/dist/index.js';
import { recallArgs, runRecallBench } from './recall.mjs';
import { lifecycleArgs, runLifecycleBench } from './lifecycle.mjs';
import { dashboardArgs, runDashboardBench } from './dashboard.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const WINDOW = 2000; // raw publishes in flight

const decisionData = (i) => ({ symbol: ['BTC', 'ETH', 'SOL'][i % 3], action: i % 2 ? 'buy' : 'sell', size: 1, confidence: 0.61, rationale: 'momentum above band, volume confirming', situation: [0.12, -0.4, 1.3, 0.02], memoryIds: [] });
const tradeData = (i) => ({ orderId: `o-${i}`, symbol: ['BTC', 'ETH', 'SOL'][i % 3], side: i % 2 ? 'buy' : 'sell', qty: 1, price: 100 + (i % 50), fees: 0.05, decisionId: '' });
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function rawPublishRate(stack) {
  // The same event bytes the SDK would send one by one, on a plain stream.
  const name = `${stack.names.namespace.toUpperCase()}_RAW`;
  await stack.jsm.streams.add({ name, subjects: [`${stack.names.namespace}.raw.>`] });
  const body = encodeEvent(makeEvent('raw-agent', 'decision_made', decisionData(1), { producerSeq: 1 }));
  const t0 = performance.now();
  const inflight = new Set();
  for (let i = 0; i < EVENTS; i++) {
    const p = stack.js.publish(`${stack.names.namespace}.raw.${i % 8}.raw-agent`, body, { msgID: `r${i}` }).then(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const secs = (performance.now() - t0) / 1000;
  await stack.jsm.streams.delete(name);
  return { events: EVENTS, seconds: secs, eventsPerSec: EVENTS / secs, bytesPerEvent: body.byteLength };
}

async function endToEnd(stack, prefix = 'bench') {
  const rows = async () => Number((await stack.pool.query('SELECT (SELECT count(*) FROM decisions) + (SELECT count(*) FROM trades) AS n')).rows[0].n);
  const before = await rows();
  const agents = Array.from({ length: AGENTS }, (_, a) => new FarmbrainAgent({ agentId: `${prefix}-${a}`, connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions }));
  const per = Math.ceil(EVENTS / AGENTS);
  const t0 = performance.now();
  await Promise.all(agents.map(async (agent) => {
    const pending = [];
    for (let i = 0; i < per; i++) {
      pending.push(i % 4 === 3 ? agent.recordTrade(tradeData(i)) : agent.recordDecision(decisionData(i)));
      if (pending.length % 2000 === 0) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  }));
  const published = (performance.now() - t0) / 1000;
  await stack.caughtUp(600_000);
  const secs = (performance.now() - t0) / 1000;
  const applied = (await rows()) - before;
  if (applied !== per * AGENTS) throw new Error(`expected ${per * AGENTS} rows, found ${applied}`);
  const hot = await stack.redis.zcard(`${stack.names.redisPrefix}agent:${prefix}-0:decisions`);
  if (hot === 0) throw new Error('Redis hot state is empty');
  await Promise.all(agents.map((a) => a.close()));
  return { events: per * AGENTS, seconds: secs, publishSeconds: published, eventsPerSec: (per * AGENTS) / secs };
}

/** `farmbrain rebuild tiering --as tiering.v2` (the real CLI) over everything the runs above wrote: events applied per second. */
async function rebuildRate(stack) {
  const events = Number((await stack.pool.query('SELECT (SELECT count(*) FROM decisions) + (SELECT count(*) FROM trades) AS n')).rows[0].n);
  const cli = new URL('../apps/cli/dist/main.js', import.meta.url).pathname;
  const out = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'rebuild', 'tiering', '--as', 'tiering.v2', '--json'], {
      env: { ...process.env, FB_NAMESPACE: stack.namespace, FB_PARTITIONS: String(stack.names.partitions), NATS_URL: stack.natsUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (b) => (text += b));
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`farmbrain rebuild exited ${code}`))));
  });
  const r = JSON.parse(out.trim().split('\n').pop());
  // From the first instance taking the version up (the registry poll before that, up to 2 s, is not applying).
  return { events, eventsCountedByInstances: r.events, messages: r.messages, seconds: r.applySeconds, totalSeconds: r.seconds, eventsPerSec: events / r.applySeconds, messagesPerSec: r.messagesPerSecond };
}

async function latency(stack) {
  const agent = new FarmbrainAgent({ agentId: 'bench-latency', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions, batch: { lingerMs: 0 } });
  const ms = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    const r = await agent.recordDecision(decisionData(i));
    for (;;) {
      const q = await stack.pool.query('SELECT 1 FROM decisions WHERE event_id = $1', [r.eventId]);
      if (q.rowCount) break;
    }
    ms.push(performance.now() - t0);
  }
  await agent.close();
  ms.sort((a, b) => a - b);
  return { samples: ms.length, p50Ms: pct(ms, 50), p99Ms: pct(ms, 99), maxMs: ms[ms.length - 1] };
}

function printTable(rows) {
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2]}`);
}

async function pipelineBench() {
  const stack = new TestStack({ partitions: 8 });
  try {
    await stack.connect();
    await stack.start('tiering', { LOG_LEVEL: 'info' });
    await stack.start('ingest', { LOG_LEVEL: 'info' });
    console.log(`farmbrain bench: ${EVENTS} events, ${AGENTS} agents, ${cpus().length} cores, namespace ${stack.namespace}`);
    const raw = await rawPublishRate(stack);
    const e2e = await endToEnd(stack);
    const lat = await latency(stack);
    // Scale-out: a second tiering instance joins (leases move half the partitions to it), same load again.
    await stack.start('tiering', { LOG_LEVEL: 'info' }, { instance: 'tiering-2' });
    await waitFor('the partitions to be shared by two tiering instances', async () => {
      const owners = await stack.leaseOwners('tiering_v1');
      return owners.filter((o) => o === 'tiering-2').length === stack.names.partitions / 2 && owners.every(Boolean);
    }, 60_000, 100);
    const e2e2 = await endToEnd(stack, 'bench2');
    const rebuild = await rebuildRate(stack);
    const ratio = e2e.eventsPerSec / raw.eventsPerSec;
    printTable([
      ['raw JetStream publish (1 event/msg, acked)', `${Math.round(raw.eventsPerSec).toLocaleString()} ev/s`, `${raw.seconds.toFixed(2)} s`],
      ['end-to-end SDK → Postgres + Redis', `${Math.round(e2e.eventsPerSec).toLocaleString()} ev/s`, `${e2e.seconds.toFixed(2)} s`],
      ['end-to-end / raw', `${(ratio * 100).toFixed(0)} %`, ''],
      ['end-to-end, 2 tiering instances', `${Math.round(e2e2.eventsPerSec).toLocaleString()} ev/s`, `${e2e2.seconds.toFixed(2)} s`],
      ['2 instances / 1 instance', `${((e2e2.eventsPerSec / e2e.eventsPerSec) * 100).toFixed(0)} %`, `${cpus().length} cores`],
      ['rebuild tiering.v2 from the log (2 instances)', `${Math.round(rebuild.eventsPerSec).toLocaleString()} ev/s`, `${rebuild.events.toLocaleString()} events, ${rebuild.seconds.toFixed(2)} s`],
      ['publish → queryable p50', `${lat.p50Ms.toFixed(1)} ms`, `${lat.samples} samples`],
      ['publish → queryable p99', `${lat.p99Ms.toFixed(1)} ms`, ''],
    ]);
    return { events: EVENTS, agents: AGENTS, raw, endToEnd: e2e, ratio, latency: lat, endToEndTwoTiering: e2e2, scaleRatio: e2e2.eventsPerSec / e2e.eventsPerSec, rebuild };
  } finally {
    await stack.destroy();
  }
}

const args = process.argv.slice(2);
const mode = ['recall', 'pipeline', 'lifecycle', 'dashboard'].includes(args[0]) ? args[0] : 'all';
const result = { at: new Date().toISOString(), node: process.version, cores: cpus().length };
const write = () => {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/${result.at.replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`written ${file.pathname}`);
};
if (mode === 'all' || mode === 'pipeline') Object.assign(result, await pipelineBench());
try {
  if (mode === 'all' || mode === 'lifecycle') {
    const { rows, ...lifecycle } = await runLifecycleBench(lifecycleArgs(args));
    result.lifecycle = lifecycle;
    console.log('');
    printTable(rows);
  }
  if (mode === 'all' || mode === 'dashboard') {
    const { rows, ...dashboard } = await runDashboardBench(dashboardArgs(args));
    result.dashboard = dashboard;
    console.log('');
    printTable(rows);
  }
  if (mode === 'all' || mode === 'recall') {
    const { rows, ...recall } = await runRecallBench(recallArgs(args));
    result.recall = recall;
    console.log('');
    printTable(rows);
  }
} finally {
  // The pipeline's results are kept even when the recall part fails.
  if (result.raw || result.recall || result.lifecycle || result.dashboard) write();
}
