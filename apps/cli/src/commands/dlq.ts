/** `farmbrain dlq list | show | replay`: the gateway's dead-letter API. */
import type { CliConfig } from '../config.js';
import { GatewayClient, type DeadLetter } from '../dlq/client.js';
import { decodeStored, eventJson, renderList, renderReplayed, renderShow } from '../dlq/render.js';
import { palette } from '../output.js';
import type { DlqListArgs, DlqOneArgs, Io } from '../program.js';

const client = (a: { gateway: string | undefined }, cfg: CliConfig) => new GatewayClient(a.gateway ?? cfg.gatewayUrl);
const colors = (cfg: CliConfig, json: boolean) => palette(!json && cfg.color(Boolean(process.stdout.isTTY)));

/** Newest first across both sources; `more` when a source had more than the limit. */
export function mergeNewest(pages: readonly { items: DeadLetter[]; nextCursor: string | null }[], limit: number): { items: DeadLetter[]; more: boolean } {
  const all = pages.flatMap((p) => p.items).sort((x, y) => (y.deadLetteredAt ?? '').localeCompare(x.deadLetteredAt ?? '') || y.id.localeCompare(x.id));
  return { items: all.slice(0, limit), more: all.length > limit || pages.some((p) => p.nextCursor !== null) };
}

/** Most ingest dead letters read to find the newest (the gateway lists them oldest first). */
const INGEST_SCAN = 5000;

/** The newest `limit` ingest dead letters: the gateway pages them oldest first, so read to the end (bounded). */
async function newestIngest(gw: GatewayClient, a: DlqListArgs): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
  let items: DeadLetter[] = [];
  let cursor: string | undefined;
  let read = 0;
  let truncated = false;
  for (;;) {
    const page = await gw.list({ source: 'ingest', agentId: a.agent, code: a.code, limit: 500, ...(cursor ? { cursor } : {}) });
    read += page.items.length;
    items = [...items, ...page.items].slice(-a.limit - 1);
    if (!page.nextCursor) break;
    if (read >= INGEST_SCAN) {
      truncated = true;
      break;
    }
    cursor = page.nextCursor;
  }
  return { items, nextCursor: truncated ? 'more' : null };
}

export async function dlqListCommand(a: DlqListArgs, cfg: CliConfig, io: Io): Promise<number> {
  const gw = client(a, cfg);
  const sources = a.source === 'all' ? (['projection', 'ingest'] as const) : [a.source];
  const pages = await Promise.all(sources.map((source) =>
    (source === 'ingest' ? newestIngest(gw, a) : gw.list({ source, agentId: a.agent, code: a.code, limit: a.limit }))));
  const { items, more } = mergeNewest(pages, a.limit);
  io.out(a.json ? `${JSON.stringify({ items, more }, null, 2)}\n` : renderList(items, more, colors(cfg, a.json)));
  return 0;
}

export async function dlqShowCommand(id: string, a: DlqOneArgs, cfg: CliConfig, io: Io): Promise<number> {
  const d = await client(a, cfg).get(id);
  io.out(a.json ? `${eventJson({ ...d, decoded: decodeStored(d.event) }, 2)}\n` : renderShow(d, colors(cfg, a.json)));
  return 0;
}

export async function dlqReplayCommand(id: string, a: DlqOneArgs, cfg: CliConfig, io: Io): Promise<number> {
  const gw = client(a, cfg);
  const r = await gw.replay(id);
  if (a.json) io.out(`${JSON.stringify(r, null, 2)}\n`);
  else {
    const d = await gw.get(id).catch(() => undefined);
    io.out(renderReplayed(r, d, colors(cfg, a.json)));
  }
  return 0;
}
