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
  await page.locator('[data-testid="agent-row"]').first().waitFor();
  await page.locator('[data-testid="agent-row"]').first().click();
  await page.locator('[data-testid="decision-row"]').first().waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="decision-row"]').first().click();
  await page.locator('[data-testid="decision-context"]').waitFor({ timeout: 30_000 });
  await save('agents');

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
