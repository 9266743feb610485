/** `farmbrain consolidate <agent> [--dry-run]`: the gateway's POST /v1/agents/:id/memories/consolidate, as a table. */
import type { ConsolidateResponse } from '@farmbrain/contracts';
import type { CliConfig } from '../config.js';
import { GatewayHttp } from '../gatewayHttp.js';
import { palette, type Palette } from '../output.js';
import type { ConsolidateArgs, Io } from '../program.js';
import { table } from '../table.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function renderConsolidation(r: ConsolidateResponse, c: Palette): string {
  const out: string[] = [];
  out.push(c.bold(`${r.dryRun ? 'consolidation plan (dry run: nothing published)' : 'consolidated'} for ${r.agentId}: ${r.groups.length} group(s) of ${r.candidates} memories; ` +
    `${r.removedFromRecall} leave recall (threshold ${r.threshold}, tag overlap ${r.minTagOverlap})`));
  if (r.groups.length > 0) {
    out.push('');
    out.push(table(['canonical', 'kind', 'merges', 'evidence', 'span', 'min sim', 'text'],
      r.groups.map((g) => [g.canonicalMemoryId, g.kind, String(g.mergedIds.length), String(g.evidence), `${day(g.spanFrom)} .. ${day(g.spanTo)}`, g.minSimilarity.toFixed(3), cut(g.text.replace(/\s+/g, ' '), 60)]),
      new Set([2, 3, 5])));
  }
  for (const w of r.warnings ?? []) out.push(c.yellow(`warning: ${w}`));
  if (r.dryRun && r.groups.length > 0) out.push(c.dim('\nrun without --dry-run to merge them'));
  return `${out.join('\n')}\n`;
}

export async function consolidateCommand(agentId: string, a: ConsolidateArgs, cfg: CliConfig, io: Io, fetchImpl: typeof fetch = fetch): Promise<number> {
  const base = a.gateway ?? cfg.gatewayUrl;
  const path = `/v1/agents/${encodeURIComponent(agentId)}/memories/consolidate`;
  const r = await new GatewayHttp(base, fetchImpl, a.timeoutMs).request<ConsolidateResponse>('POST', path, { dryRun: a.dryRun, ...(a.threshold !== undefined ? { threshold: a.threshold } : {}), ...(a.minTagOverlap !== undefined ? { minTagOverlap: a.minTagOverlap } : {}) });
  io.out(a.json ? `${JSON.stringify(r, null, 2)}\n` : renderConsolidation(r, palette(!a.json && cfg.color(Boolean(process.stdout.isTTY)))));
  return 0;
}
