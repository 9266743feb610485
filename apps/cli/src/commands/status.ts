/** `farmbrain status`: fetch, shape (status/report.ts), print. */
import type { CliConfig } from '../config.js';
import { palette } from '../output.js';
import type { Io, StatusArgs } from '../program.js';
import { fetchStatusFacts } from '../status/facts.js';
import { renderStatus } from '../status/render.js';
import { statusReport } from '../status/report.js';

export async function statusCommand(a: StatusArgs, cfg: CliConfig, io: Io): Promise<number> {
  const report = statusReport(await fetchStatusFacts(cfg.common));
  io.out(a.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report, palette(cfg.color(Boolean(process.stdout.isTTY)))));
  return 0;
}
