// The dashboard's first meaningful paint and the live feed's fan-out, on a stack of its own
// (ingest, tiering, analytics, gateway as processes, a namespace of its own, the demo fleet's roster recording).
//
//   npm run bench -- dashboard                        (node bench/run.mjs dashboard)
//   npm run bench -- dashboard --clients 100 --events 2000 --paints 5
//
// First meaningful paint: Debian's Chromium (playwright-core) opens `/` on a fresh profile and we take the time from
// navigation start until the overview shows the API's figures (`[data-metric="decisionsPerMinute"]` carries a
// data-value), next to first contentful paint (the shell) and the bytes the page loaded. Cold = the first load of a
// fresh browser; warm = later loads of new pages in the same browser (HTTP cache).
//
// SSE fan-out: `clients` concurrent `GET /v1/feed` readers; the bench publishes `events` decisions through the SDK
// as fast as ingest takes them and counts, per client, the `decision` events that arrive. events/s delivered =
// clients × events / (last delivery − first publish). The same run with one client gives the ratio: what fanning out
// to `clients` costs per delivered event.
import { request } from 'node:http';
import { FarmbrainAgent } from '../packages/sdk/dist/index.js';
import { TestStack, waitFor } from '../packages/testing/dist/index.js';
import { launchChromium } from '../apps/dashboard/dist/test/browser.js';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function dashboardArgs(args) {
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  return { clients: opt('clients', 100), events: opt('events', 2000), paints: opt('paints', 5) };
}

const decision = (i) => ({ symbol: ['BTC-USD', 'ETH-USD', 'SOL-USD'][i % 3], action: ['buy', 'sell', 'hold'][i % 3], size: 1, confidence: 0.5 + (i % 5) / 10, rationale: 'bench', situation: [0.1, 0.2, 0.3, 0.4], memoryIds: [] });

/** One feed reader: counts `decision` events, resolves `ready` once the response headers arrived. */
function feedClient(base) {
  const c = { decisions: 0, last: 0, ready: undefined, close: undefined };
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
          if (/^event: decision$/m.test(frame)) {
            c.decisions += 1;
            c.last = performance.now();
          }
        }
      });
      resolve();
    });
    req.on('error', reject);
    req.end();
    c.close = () => req.destroy();
  });
  return c;
}

async function fanOut(stack, agent, clients, events, offset) {
  const readers = Array.from({ length: clients }, () => feedClient(stack.gatewayUrl));
  await Promise.all(readers.map((r) => r.ready));
  // A first decision every reader must see: from then on each is subscribed.
  await agent.recordDecision(decision(offset));
  await waitFor('every feed client to be live', () => readers.every((r) => r.decisions >= 1), 60_000, 20);
  for (const r of readers) r.decisions = 0;
  const t0 = performance.now();
  const pending = [];
  for (let i = 1; i <= events; i++) pending.push(agent.recordDecision(decision(offset + i)));
  await Promise.all(pending);
  const published = performance.now() - t0;
  await waitFor(`${clients} clients to receive ${events} decisions`, () => readers.every((r) => r.decisions >= events), 300_000, 20);
  const last = Math.max(...readers.map((r) => r.last));
  for (const r of readers) r.close();
  const secs = (last - t0) / 1000;
  return { clients, events, publishSeconds: published / 1000, seconds: secs, deliveredPerSec: (clients * events) / secs, extra: readers.reduce((n, r) => n + r.decisions - events, 0) };
}

async function paints(stack, runs) {
  const browser = await launchChromium();
  try {
    const one = async (context) => {
      const page = await context.newPage();
      let bytes = 0;
      page.on('response', async (r) => {
        const len = Number(r.headers()['content-length'] ?? 0);
        bytes += len;
      });
      await page.goto(stack.gatewayUrl, { waitUntil: 'commit' });
      await page.waitForSelector('[data-metric="decisionsPerMinute"][data-value]', { timeout: 60_000 });
      const t = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return { fmp: performance.now() - (nav?.startTime ?? 0), fcp: fcp ? fcp.startTime : null };
      });
      await page.close();
      return { ...t, bytes };
    };
    const coldCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const cold = await one(coldCtx);
    const warm = [];
    for (let i = 0; i < runs; i++) warm.push(await one(coldCtx));
    await coldCtx.close();
    return {
      coldFmpMs: cold.fmp, coldFcpMs: cold.fcp, coldBytes: cold.bytes,
      warmFmpMsMedian: median(warm.map((w) => w.fmp)), warmFcpMsMedian: median(warm.map((w) => w.fcp ?? 0)), runs,
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
    rows.push(['first meaningful paint, cold', `${paint.coldFmpMs.toFixed(0)} ms`, `FCP ${paint.coldFcpMs?.toFixed(0)} ms, ${(paint.coldBytes / 1024).toFixed(0)} KiB loaded`]);
    rows.push(['first meaningful paint, warm (median)', `${paint.warmFmpMsMedian.toFixed(0)} ms`, `FCP ${paint.warmFcpMsMedian.toFixed(0)} ms, ${runs} loads`]);

    const single = await fanOut(stack, agent, 1, events, 10_000);
    const many = await fanOut(stack, agent, clients, events, 20_000);
    rows.push(['SSE fan-out, 1 client', `${single.deliveredPerSec.toFixed(0)} ev/s`, `${events} decisions in ${single.seconds.toFixed(2)} s`]);
    rows.push([`SSE fan-out, ${clients} clients`, `${many.deliveredPerSec.toFixed(0)} ev/s`, `${clients * events} deliveries in ${many.seconds.toFixed(2)} s; ${(many.deliveredPerSec / single.deliveredPerSec).toFixed(1)}× the single client's rate`]);
    if (many.extra !== 0 || single.extra !== 0) rows.push(['SSE duplicates', String(many.extra + single.extra), 'events beyond the published ones (must be 0)']);
    await agent.close();
    return { rows, paint, fanOut: { single, many, ratio: many.deliveredPerSec / single.deliveredPerSec } };
  } finally {
    await stack.destroy();
  }
}
