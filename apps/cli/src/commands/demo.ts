/** `farmbrain demo`: only the demo fleet, against a running stack, until Ctrl-C. */
import type { CliConfig } from '../config.js';
import { loadDemoFleet } from '../demoFleet.js';
import { CliError } from '../errors.js';
import { LineWriter, palette } from '../output.js';
import type { DemoArgs } from '../program.js';
import { describePolicy } from '../start/scopePolicy.js';
import { START_HINTS } from '@farmbrain/platform';

export async function demoCommand(a: DemoArgs, cfg: CliConfig): Promise<number> {
  const out = new LineWriter(palette(!a.json && cfg.color(Boolean(process.stdout.isTTY))), a.json);
  const common = cfg.common;
  const d = cfg.demo;
  const agents = a.agents ?? d.agents;
  const gateway = a.gateway ?? cfg.gatewayUrl;
  const user = cfg.userScopePolicy;
  const demo = await loadDemoFleet();
  if (user) out.say(`scope policy yours (${user.source}): ${describePolicy(user.policy)}`, 'demo');
  else {
    out.say(`scope policy: the demo's; for shared memories the services must run with FB_SCOPE_POLICY='${JSON.stringify(demo.demoScopePolicy(agents))}' `
      + '(farmbrain start does that)', 'demo');
  }
  let fleet;
  try {
    fleet = await demo.startDemoFleet({
      natsUrl: common.natsUrl, namespace: common.namespace, partitions: common.partitions, gateway,
      scopePolicy: user?.policy, agents, tickMs: d.tickMs, seed: d.seed, log: (msg) => out.say(String(msg), 'demo'),
    });
  } catch (err) {
    const msg = String((err as Error)?.message ?? err);
    const hint = /connect|ECONNREFUSED|timeout/i.test(msg + ((err as { code?: string })?.code ?? '')) ? ` NATS is not reachable at ${common.natsUrl}. ${START_HINTS.nats}` : '';
    throw new CliError('DEMO_FAILED', `the demo fleet could not start: ${msg}.${hint}`);
  }
  out.say(`demo fleet of ${fleet.agents.length} agents running against ${gateway} (namespace ${common.namespace}); Ctrl-C stops it`, 'demo');
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) return resolve(1);
      out.say(`${sig}: stopping (flushing)…`, 'demo');
      fleet.stop().then(() => resolve(0), (err: unknown) => {
        out.fail(`farmbrain: demo fleet stop failed: ${(err as Error)?.message ?? err}\n`);
        resolve(1);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
