// The dashboard's first meaningful paint and the live feed's fan-out, on a stack of its own
// (ingest, tiering, analytics, gateway as processes, a namespace of its own, the demo fleet's roster recording).
//
//   npm run bench -- dashboard                        (node bench/run.mjs dashboard)
//   npm run bench -- dashboard --clients 100 --events 2000 --paints 5
//
// First meaningful paint: Debian's Chromium (playwright-core) opens `/` on a fresh profile; a MutationObserver in the
// page notes the moment the overview shows the API's first figure (`[data-metric="decisionsPerMinute"]` with a
// data-value), next to first contentful paint (the shell) and the response bodies the page loaded. Cold = the first load of a
// fresh browser; warm = later loads of new pages in the same browser (HTTP cache).
//
// SSE fan-out: `clients` concurrent `GET /v1/feed` readers; the bench publishes `events` decisions through the SDK
// as fast as ingest takes them and records when each reader gets each decision. events/s delivered =
// clients × events / (last delivery − first delivery); with one client that rate is what ingest feeds the log, so
// the ratio of the two is what fanning out to `clients` multiplies. The spread (per decision, first reader → last
// reader) is the fan-out's own cost.
import { request } from 'node:http';
import { FarmbrainAgent } from '../packages/sdk/dist/index.js';
import { TestStack, waitFor } from '../packages/testing/dist/index.js';
import { launchChromium } from '../packages/testing/dist/browser.js';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function dashboardArgs(args) {
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  return { clients: opt('clients', 100), events: opt('events', 2000), paints: opt('paints', 5) };
}

const decision = (i) => ({ symbol: ['BTC-USD', 'ETH-USD', 'SOL-USD'][i % 3], action: ['buy', 'sell', 'hold'][i % 3], size: 1, confidence: 0.5 + (i % 5) / 10, rationale: 'bench', situation: [0.1, 0.2, 0.3, 0.4], memoryIds: [] });

/** One feed reader: records when each `decision` arrives (by event id); resolves `ready` once the response headers arrived. */
function feedClient(base, arrivals) {
  const c = { decisions: 0, closed: false, ready: undefined, close: undefined };
  c.ready = new Promise((resolve, reject) => {
    const req = request(`${base}/v1/feed`, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`feed answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!/^event: decision$/m.test(frame)) continue;
          const at = performance.now();
          const id = JSON.parse(/^data: (.*)$/m.exec(frame)[1]).eventId;
          c.decisions += 1;
          const a = arrivals.get(id);
          if (a) {
            a.n += 1;
            a.last = at;
          } else arrivals.set(id, { first: at, last: at, n: 1 });
        }
      });
      res.on('close', () => (c.closed = true));
      resolve();
    });
    req.on('error', reject);
    req.end();
    c.close = () => req.destroy();
  });
  return c;
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/**
 * `clients` readers, `events` decisions. Delivered/s counts from the first delivery to the last (what the gateway
 * fanned out while the log was being written); the spread is, per decision, the time between its first and its last
 * client receiving it: the cost of fanning out, apart from how fast ingest feeds the log.
 */
async function fanOut(stack, agent, clients, events, offset) {
  const arrivals = new Map();
  const readers = Array.from({ length: clients }, () => feedClient(stack.gatewayUrl, arrivals));
  await Promise.all(readers.map((r) => r.ready));
  // A first decision every reader must see: from then on each is subscribed.
  await agent.recordDecision(decision(offset));
  await waitFor('every feed client to be live', () => readers.every((r) => r.decisions >= 1), 60_000, 20);
  for (const r of readers) r.decisions = 0;
  arrivals.clear();
  const t0 = performance.now();
  const pending = [];
  for (let i = 1; i <= events; i++) pending.push(agent.recordDecision(decision(offset + i)));
  await Promise.all(pending);
  const published = performance.now() - t0;
  await waitFor(`${clients} clients to receive ${events} decisions`, () => {
    if (readers.some((r) => r.closed)) throw new Error('the gateway closed a feed client (slow-client cut-off?)');
    return readers.every((r) => r.decisions >= events);
  }, 300_000, 20);
  for (const r of readers) r.close();
  const all = [...arrivals.values()];
  const first = Math.min(...all.map((a) => a.first));
  const last = Math.max(...all.map((a) => a.last));
  const spreads = all.map((a) => a.last - a.first).sort((x, y) => x - y);
  const secs = (last - first) / 1000;
  return {
    clients, events, publishSeconds: published / 1000, seconds: secs, deliveredPerSec: (clients * events) / secs,
    publishToLastSeconds: (last - t0) / 1000, spreadP50Ms: pct(spreads, 50), spreadP99Ms: pct(spreads, 99),
    duplicates: all.reduce((n, a) => n + a.n - clients, 0),
  };
}

const FMP_SELECTOR = '[data-metric="decisionsPerMinute"][data-value]:not([data-value=""])';

async function paints(stack, runs) {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // In the page, from its first script on: the moment the overview's first figure from the API is in the DOM.
    await context.addInitScript((sel) => {
      const seen = () => {
        if (window.__fmp === undefined && document.querySelector(sel)) window.__fmp = performance.now();
        return window.__fmp !== undefined;
      };
      new MutationObserver((_, o) => seen() && o.disconnect()).observe(document, { subtree: true, childList: true, attributes: true });
    }, FMP_SELECTOR);
    const one = async () => {
      const page = await context.newPage();
      const requests = [];
      page.on('requestfinished', (r) => requests.push(r));
      await page.goto(stack.gatewayUrl, { waitUntil: 'commit' });
      await page.waitForFunction(() => window.__fmp !== undefined, null, { timeout: 60_000 });
      const t = await page.evaluate(() => ({ fmp: window.__fmp, fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null }));
      const bytes = (await Promise.all(requests.map(async (r) => (await r.sizes()).responseBodySize))).reduce((a, b) => a + b, 0);
      await page.close();
      return { ...t, bytes };
    };
    const cold = await one();
    const warm = [];
    for (let i = 0; i < runs; i++) warm.push(await one());
    await context.close();
    return {
      coldFmpMs: cold.fmp, coldFcpMs: cold.fcp, coldBytes: cold.bytes,
      warmFmpMsMedian: median(warm.map((w) => w.fmp)), warmFcpMsMedian: median(warm.map((w) => w.fcp ?? 0)), warmBytesMedian: median(warm.map((w) => w.bytes)), runs,
    };
  } finally {
    await browser.close();
  }
}

export async function runDashboardBench({ clients, events, paints: runs }) {
  const stack = new TestStack({ partitions: 4 });
  const rows = [];
  try {
    await stack.connect();
    await stack.start('tiering');
    await stack.start('ingest');
    await stack.start('analytics');
    await stack.start('gateway');
    console.log(`dashboard bench: namespace ${stack.namespace}, ${clients} feed clients × ${events} decisions, ${runs} warm paints`);
    const agent = new FarmbrainAgent({ agentId: 'bench-dash', connection: stack.nc, namespace: stack.namespace, partitions: stack.names.partitions });
    await agent.register({ name: 'bench', team: 'bench', strategy: 'bench', config: {} });
    for (let i = 0; i < 200; i++) await agent.recordDecision(decision(i));
    await stack.caughtUp(120_000);

    const paint = await paints(stack, runs);
    rows.push(['first meaningful paint, cold', `${paint.coldFmpMs.toFixed(0)} ms`, `FCP ${paint.coldFcpMs?.toFixed(0)} ms, ${(paint.coldBytes / 1024).toFixed(0)} KiB of bodies`]);
    rows.push(['first meaningful paint, warm (median)', `${paint.warmFmpMsMedian.toFixed(0)} ms`, `FCP ${paint.warmFcpMsMedian.toFixed(0)} ms, ${(paint.warmBytesMedian / 1024).toFixed(0)} KiB of bodies, ${runs} loads`]);

    const single = await fanOut(stack, agent, 1, events, 10_000);
    const many = await fanOut(stack, agent, clients, events, 20_000);
    rows.push(['SSE fan-out, 1 client', `${single.deliveredPerSec.toFixed(0)} ev/s`, `${events} decisions delivered over ${single.seconds.toFixed(2)} s (ingest-bound)`]);
    rows.push([`SSE fan-out, ${clients} clients`, `${many.deliveredPerSec.toFixed(0)} ev/s`, `${clients * events} deliveries over ${many.seconds.toFixed(2)} s; ${(many.deliveredPerSec / single.deliveredPerSec).toFixed(1)}× the single client's rate`]);
    rows.push([`  first → last client, per decision`, `p50 ${many.spreadP50Ms.toFixed(1)} ms`, `p99 ${many.spreadP99Ms.toFixed(1)} ms`]);
    rows.push(['SSE duplicates', String(many.duplicates + single.duplicates), 'deliveries beyond one per client and decision (must be 0)']);
    await agent.close();
    return { rows, paint, fanOut: { single, many, ratio: many.deliveredPerSec / single.deliveredPerSec } };
  } finally {
    await stack.destroy();
  }
}
