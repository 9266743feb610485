// Screenshots of each dashboard tab, from a running stack (npm start, with its demo fleet), for the README.
//
//   npm start                                   # in another terminal; let the fleet run a minute or two
//   node scripts/screenshots.mjs [--url http://127.0.0.1:8080] [--out docs/screenshots] [--theme light|dark]
//
// Debian's Chromium (apt-get install -y chromium) through playwright-core, as the browser tests use it.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchChromium } from '../packages/testing/dist/browser.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const url = opt('url', 'http://127.0.0.1:8080');
const out = resolve(opt('out', 'docs/screenshots'));
const theme = opt('theme', 'light');
mkdirSync(out, { recursive: true });

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  await context.addInitScript((t) => localStorage.setItem('farmbrain.theme', t), theme);
  const page = await context.newPage();
  const figures = (panel) => page.locator(`[data-testid="panel-${panel}"] [data-metric][data-value]:not([data-value=""])`).first().waitFor({ timeout: 30_000 });
  const save = async (name) => {
    await page.waitForTimeout(600); // let charts finish their first draw
    await page.screenshot({ path: `${out}/${name}.png` });
    console.log(`${out}/${name}.png`);
  };

  await page.goto(`${url}/#overview`);
  await figures('overview');
  await save('overview');

  await page.click('[data-testid="tab-agents"]');
  const row = page.locator('[data-testid="agent-row"]').first();
  await row.waitFor();
  const agentId = await row.getAttribute('data-agent-id');
  await row.click();
  await page.locator('[data-testid="agent-detail"]').waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await save('agents');
  // Provenance: a decision that cites memories and recalls, drilled into.
  const decisions = await (await fetch(`${url}/v1/agents/${agentId}/decisions?limit=20`)).json();
  const cited = decisions.items.find((d) => d.memoryIds.length > 0 && d.recallIds.length > 0);
  if (cited) {
    const d = page.locator(`[data-testid="decision-row"][data-decision-id="${cited.decisionId}"]`);
    await d.waitFor({ timeout: 30_000 });
    await d.click();
    const ctx = page.locator('[data-testid="decision-context"]');
    await ctx.locator('[data-recall-id]').first().waitFor({ timeout: 30_000 });
    // Below the sticky header, with a margin around the card.
    const top = await ctx.evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
    await page.evaluate((y) => window.scrollTo(0, y), top - 112);
    await page.waitForTimeout(300);
    const box = await ctx.boundingBox();
    await page.screenshot({ path: `${out}/provenance.png`, clip: { x: Math.max(0, box.x - 12), y: box.y - 12, width: Math.min(1280, box.width + 24), height: Math.min(800 - box.y + 12, box.height + 24) } });
    console.log(`${out}/provenance.png`);
  }

  await page.click('[data-testid="tab-utilization"]');
  await figures('utilization');
  await page.locator('[data-testid^="chart-"] canvas').first().waitFor();
  await save('utilization');

  await page.click('[data-testid="tab-optimization"]');
  await page.click('[data-testid="optimize-preview"]');
  await page.locator('[data-testid="optimize-result"]').waitFor({ timeout: 60_000 });
  await save('optimization');

  await page.fill('[data-testid="search-input"]', 'breakout on high volume');
  await page.click('[data-testid="search-submit"]');
  await page.locator('[data-testid="search-hit"]').first().waitFor({ timeout: 30_000 });
  await save('search');

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await phone.addInitScript(() => localStorage.setItem('farmbrain.theme', 'dark'));
  const p2 = await phone.newPage();
  await p2.goto(`${url}/#overview`);
  await p2.locator('[data-testid="panel-overview"] [data-metric][data-value]:not([data-value=""])').first().waitFor({ timeout: 30_000 });
  await p2.waitForTimeout(600);
  await p2.screenshot({ path: `${out}/overview-phone-dark.png` });
  console.log(`${out}/overview-phone-dark.png`);
} finally {
  await browser.close();
}
