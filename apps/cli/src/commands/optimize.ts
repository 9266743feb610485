/** `farmbrain optimize [--dry-run] [--json]`: the gateway's POST /v1/optimize, as a table. */
import type { CliConfig } from '../config.js';
import { GatewayHttp } from '../gatewayHttp.js';
import { palette, type Palette } from '../output.js';
import type { OptimizeArgs, Io } from '../program.js';
import { table } from '../table.js';

/** The parts of the gateway's answer the table shows (the whole answer with --json). */
export interface OptimizeAnswer {
  dryRun: boolean;
  at: string;
  tookMs: number;
  steps: { step: string; status: string; summary: string; actions: number; records: number; bytesBefore: number; bytesAfter: number; refused: { moveId: string; code: string; reason: string }[] }[];
  tiers: { tier: string; before: number; after: number; saved: number }[];
  postgres: { before: number; after: number | null; saved: number | null };
  retention: { heldBack: unknown[]; notes: string[] };
  consistencyToken: string | null;
}

/** Bytes for people: 1.2 MB, 840 kB, 12 B. */
export const human = (n: number): string => {
  const a = Math.abs(n);
  const [v, u] = a >= 1e9 ? [n / 1e9, 'GB'] : a >= 1e6 ? [n / 1e6, 'MB'] : a >= 1e3 ? [n / 1e3, 'kB'] : [n, 'B'];
  return u === 'B' ? `${n} B` : `${v.toFixed(Math.abs(v) >= 100 ? 0 : 1)} ${u}`;
};

export function renderOptimize(r: OptimizeAnswer, c: Palette): string {
  const out: string[] = [];
  out.push(c.bold(r.dryRun ? `optimize, dry run (nothing changed) as of ${r.at}` : `optimize as of ${r.at}, ${(r.tookMs / 1000).toFixed(1)} s`));
  out.push('');
  const status = (s: string) => (s === 'done' || s === 'planned' ? c.green(s) : s === 'not available' ? c.yellow(s) : c.dim(s));
  for (const s of r.steps) {
    out.push(`${s.step.padEnd(14)} ${status(s.status)}: ${s.summary}`);
    for (const x of s.refused) out.push(c.red(`               refused ${x.moveId} ${x.code}: ${x.reason}`));
  }
  out.push('');
  const rows = r.tiers.map((t) => [t.tier, human(t.before), human(t.after), human(t.saved)]);
  rows.push(['postgres (disk)', human(r.postgres.before), r.postgres.after === null ? '-' : human(r.postgres.after), r.postgres.saved === null ? '-' : human(r.postgres.saved)]);
  out.push(table(['tier', 'before', r.dryRun ? 'after (est.)' : 'after', 'saved'], rows, new Set([1, 2, 3])));
  for (const n of r.retention.notes) out.push(c.dim(`note: ${n}`));
  if (r.dryRun) out.push(c.dim('\nrun `farmbrain optimize` without --dry-run to do it'));
  return `${out.join('\n')}\n`;
}

export async function optimizeCommand(a: OptimizeArgs, cfg: CliConfig, io: Io, fetchImpl: typeof fetch = fetch): Promise<number> {
  const base = a.gateway ?? cfg.gatewayUrl;
  const r = await new GatewayHttp(base, fetchImpl, a.timeoutMs).request<OptimizeAnswer>('POST', '/v1/optimize', { dryRun: a.dryRun, ...(a.steps ? { steps: a.steps } : {}) });
  io.out(a.json ? `${JSON.stringify(r, null, 2)}\n` : renderOptimize(r, palette(!a.json && cfg.color(Boolean(process.stdout.isTTY)))));
  return r.steps.some((s) => s.refused.length > 0) ? 1 : 0;
}
