import { fileURLToPath } from 'node:url';
import type { CliConfig } from '../config.js';
import { LineWriter, palette } from '../output.js';
import type { StartArgs } from '../program.js';
import { runStart } from '../start/stack.js';

/** The repository root: services/<name>/dist/main.js are run from there. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export async function startCommand(a: StartArgs, cfg: CliConfig): Promise<number> {
  const out = new LineWriter(palette(!a.json && cfg.color(Boolean(process.stdout.isTTY))), a.json);
  return runStart({ demo: a.demo, agents: a.agents, port: a.port, instances: a.instances }, cfg, out, REPO_ROOT);
}
