// Browser tests' harness (`@farmbrain/testing/browser`, apart from the index so other tests never load playwright-core).
import { chromium, type Browser, type Page } from 'playwright-core';

export type { Browser, Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`): never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium as this machine runs it: no sandbox (root), and no background networking, whose
 * connections the closed network refuses (updates, safe browsing, metrics), so the page talks to the
 * gateway only.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** The raw number a dashboard figure shows (its `data-value`, the API's value unformatted), or null when it shows none. */
export async function metricValue(page: Page, key: string, within?: string): Promise<number | null> {
  const sel = `${within ? `${within} ` : ''}[data-metric="${key}"]`;
  const v = await page.locator(sel).first().getAttribute('data-value');
  return v === null || v === '' ? null : Number(v);
}

/** Page requests that left the gateway's origin (the dashboard must make none). */
export function foreignRequests(page: Page, origin: string): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) seen.push(u);
  });
  return seen;
}
