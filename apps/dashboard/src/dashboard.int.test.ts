import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestStack, waitFor } from '@farmbrain/testing';
import { demoScopePolicy, startDemoFleet } from '@farmbrain/demo';
import { foreignRequests, launchChromium, metricValue, type Browser, type Page } from '@farmbrain/testing/browser';

// The dashboard in Debian's Chromium against the real stack (ingest, tiering, analytics, gateway as processes)
// with the demo fleet; screenshots of every tab go to test-artifacts/dashboard/.
const AGENTS = 3;
const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/dashboard/', import.meta.url));
const stack = new TestStack({ env: { FB_SCOPE_POLICY: JSON.stringify(demoScopePolicy(AGENTS)) } });
let browser: Browser;
let page: Page;
let foreign: string[];
let port = 0;

const shot = async (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: false });

/** The figure `key` shows equal to `expected` (polled: a live refresh may land between the API read and the page's). */
async function shows(key: string, expected: () => Promise<number | null>, within?: string): Promise<void> {
  let last: [number | null, number | null] = [null, null];
  await waitFor(`the dashboard's ${key} to equal the API's`, async () => {
    const want = await expected();
    const got = await metricValue(page, key, within);
    last = [got, want];
    return want === null ? got === null : got !== null && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want));
  }, 20_000, 200).catch((err: unknown) => {
    throw new Error(`${key}: the dashboard shows ${last[0]}, the API says ${last[1]} (${String(err)})`);
  });
}

const api = async <T>(path: string): Promise<T> => {
  const r = await stack.get<T>(path);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body;
};

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await stack.connect();
  await stack.start('tiering');
  await stack.start('ingest');
  await stack.start('analytics');
  await stack.start('gateway');
  port = Number(new URL(stack.gatewayUrl).port);
  const fleet = await startDemoFleet({
    natsUrl: stack.natsUrl, namespace: stack.namespace, partitions: stack.names.partitions, gateway: stack.gatewayUrl,
    agents: AGENTS, tickMs: 40, seed: 42, log: () => undefined,
  });
  await waitFor('the demo fleet to trade, close positions and recall', () => fleet.stats.closes >= 3 && fleet.stats.recalls >= 10 && fleet.stats.memories >= 3, 120_000);
  await fleet.stop();
  await stack.caughtUp();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  foreign = foreignRequests(page, stack.gatewayUrl);
  await page.goto(stack.gatewayUrl);
});

after(async () => {
  await browser?.close();
  await stack.destroy();
});

test('overview: the figures are the API\'s, and nothing is fetched from anywhere but the gateway', async () => {
  await page.locator('[data-testid="panel-overview"]').waitFor();
  const window = (await page.locator('[data-testid="panel-overview"]').getAttribute('data-window')) ?? '1h';
  const overview = () => api<Record<string, any>>(`/v1/analytics/overview?window=${window}`);
  await shows('agents', async () => (await overview()).agents);
  await shows('decisionsPerMinute', async () => (await overview()).throughput.decisionsPerMinute);
  await shows('eventsPerMinute', async () => (await overview()).throughput.eventsPerMinute);
  await shows('lagTotal', async () => (await overview()).lag.total);
  await shows('recallP95', async () => (await overview()).recallLatency.p95);
  await shows('hotHitRatio', async () => (await overview()).indicators.memoryEfficiency.hotHitRatio);
  await shows('activeAlerts', async () => (await overview()).activeAlerts);
  assert.ok(((await overview()).agents as number) >= AGENTS, 'the fleet\'s agents are counted');
  await shot('overview');
  assert.deepEqual(foreign, [], 'the dashboard calls only the gateway');
});

test('agents: every agent\'s row matches the API; a decision drills down to what it recalled and cited', async () => {
  await page.click('[data-testid="tab-agents"]');
  await page.locator('[data-testid="panel-agents"]').waitFor();
  const { items } = await api<{ items: { agentId: string; decisions: number; winRate: number | null; pnl: number }[] }>(`/v1/analytics/agents`);
  assert.ok(items.length >= AGENTS);
  await waitFor('a row per agent', async () => (await page.locator('[data-testid="agent-row"]').count()) === items.length, 20_000, 100);
  for (const a of items) {
    const row = `[data-testid="agent-row"][data-agent-id="${a.agentId}"]`;
    await shows('decisions', async () => a.decisions, row);
    await shows('pnl', async () => a.pnl, row);
    await shows('winRate', async () => a.winRate, row);
  }
  const trader = items.find((a) => a.decisions > 0)!;
  await page.click(`[data-testid="agent-row"][data-agent-id="${trader.agentId}"]`);
  await page.locator('[data-testid="agent-detail"]').waitFor();
  const health = await api<{ totals: { memories: number } }>(`/v1/agents/${trader.agentId}/memory-health`);
  await shows('memories', async () => health.totals.memories, '[data-testid="agent-detail"]');
  // A decision that cites memories and recalls (the demo fleet's agents cite what they recalled).
  const decisions = await stack.all<{ decisionId: string; recallIds: string[]; memoryIds: string[] }>(`/v1/agents/${trader.agentId}/decisions`);
  const cited = decisions.find((d) => d.recallIds.length > 0 && d.memoryIds.length > 0);
  assert.ok(cited, `${trader.agentId} has a decision citing both memories and recalls`);
  const row = page.locator(`[data-testid="decision-row"][data-decision-id="${cited.decisionId}"]`);
  await row.scrollIntoViewIfNeeded();
  await row.click();
  const ctx = page.locator('[data-testid="decision-context"]');
  await ctx.waitFor();
  const context = await api<{ recalls: { recallId: string; hits: { memoryId: string; version: number }[] }[]; citedMemories: { memoryId: string; version: number }[] }>(
    `/v1/agents/${trader.agentId}/decisions/${cited.decisionId}/context`);
  assert.ok(context.citedMemories.length > 0 && context.recalls.length > 0);
  for (const m of context.citedMemories) {
    const li = ctx.locator(`[data-memory-id="${m.memoryId}"]`).first();
    await li.waitFor();
    assert.ok((await li.innerText()).includes(`v${m.version}`), `the cited memory ${m.memoryId} shows the version it had then (v${m.version})`);
  }
  for (const r of context.recalls) {
    const block = ctx.locator(`[data-recall-id="${r.recallId}"]`);
    await block.waitFor();
    assert.equal(await block.locator('[data-memory-id]').count(), r.hits.length, `recall ${r.recallId} shows its ${r.hits.length} hits`);
  }
  await shot('agents');
});

test('utilization: tier sizes are the lifecycle metrics\' and charts draw', async () => {
  await page.click('[data-testid="tab-utilization"]');
  await page.locator('[data-testid="panel-utilization"]').waitFor();
  const util = () => api<Record<string, any>>('/v1/analytics/utilization');
  for (const tier of ['hot', 'warm', 'cold', 'archive']) {
    await shows(`tierBytes.${tier}`, async () => {
      const u = await util();
      return Number(u.current?.totals?.[tier]?.bytes ?? u.current?.tiers?.[tier]?.bytes ?? 0);
    });
  }
  await page.locator('[data-testid^="chart-"] canvas').first().waitFor();
  await page.locator('[data-testid="erasure-log"]').waitFor();
  await shot('utilization');
});

test('live: a decision recorded now shows in the feed without a reload', async () => {
  await page.click('[data-testid="tab-overview"]');
  await page.locator('[data-testid="live-status"][data-state="open"]').waitFor({ timeout: 20_000 });
  const r = await stack.post<{ accepted: { eventId: string }[] }>('/v1/events', {
    events: [{ agentId: 'momo-1', type: 'decision_made', data: { symbol: 'BTC-USD', action: 'hold', confidence: 0.42, rationale: 'browser test', situation: [0.1, 0.2, 0.3, 0.4] } }],
  });
  assert.ok(r.status === 200 || r.status === 202, JSON.stringify(r.body));
  const eventId = r.body.accepted?.[0]?.eventId;
  assert.ok(eventId, JSON.stringify(r.body));
  await page.locator(`[data-testid="live-feed"] [data-event-id="${eventId}"]`).waitFor({ timeout: 30_000 });
});

test('optimization: the dry run previews, one click optimizes, and the result shows what it saved', async () => {
  await page.click('[data-testid="tab-optimization"]');
  await page.locator('[data-testid="panel-optimization"]').waitFor();
  const preview = page.waitForResponse((res) => res.url().endsWith('/v1/optimize') && res.request().method() === 'POST');
  await page.click('[data-testid="optimize-preview"]');
  const p = await preview;
  assert.equal(p.status(), 200);
  assert.equal(JSON.parse(p.request().postData() ?? '{}').dryRun, true);
  await page.locator('[data-testid="optimize-result"]').waitFor();
  const run = page.waitForResponse((res) => res.url().endsWith('/v1/optimize') && res.request().method() === 'POST' && JSON.parse(res.request().postData() ?? '{}').dryRun !== true, { timeout: 120_000 });
  await page.click('[data-testid="optimize-run"]');
  await page.click('[data-testid="optimize-confirm"]');
  const done = await run;
  assert.equal(done.status(), 200, await done.text());
  const body = await done.json() as { dryRun: boolean; tiers: { tier: string; saved: number }[] };
  assert.equal(body.dryRun, false, 'a real run, not the preview');
  await waitFor('the optimize result', async () => (await page.locator('[data-testid="optimize-result"]').getAttribute('data-run')) === 'done', 60_000, 200);
  const saved = await metricValue(page, 'savedBytes', '[data-testid="optimize-result"]');
  assert.equal(saved, body.tiers.reduce((n, t) => n + t.saved, 0), 'the page shows what the run answered it saved');
  await shot('optimization');
});

test('the hook serves cached data while the gateway is stopped and sends queued writes once it is back', async () => {
  await page.click('[data-testid="tab-agents"]');
  const agentId = 'momo-1';
  await page.click(`[data-testid="agent-row"][data-agent-id="${agentId}"]`);
  const detail = page.locator('[data-testid="agent-detail"]');
  await detail.waitFor();
  const memoriesBefore = await metricValue(page, 'memories', '[data-testid="agent-detail"]');
  assert.ok(memoriesBefore !== null && memoriesBefore > 0);

  await stack.kill('gateway');
  await page.click('[data-testid="agent-refresh"]');
  await page.locator('[data-testid="agent-detail"][data-status="offline"]').waitFor({ timeout: 20_000 });
  assert.equal(await metricValue(page, 'memories', '[data-testid="agent-detail"]'), memoriesBefore, 'the last known data is still shown');
  const note = `operator note ${Date.now()}`;
  await page.fill('[data-testid="remember-input"]', note);
  await page.click('[data-testid="remember-submit"]');
  await page.fill('[data-testid="remember-input"]', `${note} (second)`);
  await page.click('[data-testid="remember-submit"]');
  await waitFor('two writes queued', async () => (await metricValue(page, 'pendingWrites')) === 2, 10_000, 100);
  await shot('agents-offline');

  await stack.start('gateway', { FB_GATEWAY_PORT: String(port) });
  await waitFor('the queue to flush', async () => (await metricValue(page, 'pendingWrites')) === 0, 60_000, 200);
  await stack.caughtUp();
  const memories = await stack.all<{ text: string; memoryId: string; createdAt?: string }>(`/v1/agents/${agentId}/memories`);
  const first = memories.filter((m) => m.text === note);
  const second = memories.filter((m) => m.text === `${note} (second)`);
  assert.equal(first.length, 1, 'the first note, once');
  assert.equal(second.length, 1, 'the second note, once');
  // In the order they were written: listings are newest first.
  assert.ok(memories.indexOf(second[0]!) < memories.indexOf(first[0]!), 'the second note was applied after the first');
});

test('phone width and both themes read well (screenshots)', async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(stack.gatewayUrl);
  await phone.locator('[data-testid="panel-overview"]').waitFor();
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling at phone width (page is ${width}px wide)`);
  await phone.screenshot({ path: `${ARTIFACTS}overview-phone.png` });
  const before = await phone.evaluate(() => document.documentElement.dataset.theme);
  await phone.click('[data-testid="theme-toggle"]');
  const afterTheme = await phone.evaluate(() => document.documentElement.dataset.theme);
  assert.notEqual(afterTheme, before);
  await phone.screenshot({ path: `${ARTIFACTS}overview-phone-${afterTheme}.png` });
  await phone.close();
});
