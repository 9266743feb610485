/**
 * `farmbrain start`: checks that NATS, Redis and Postgres answer, starts
 * tiering (its first instance applies the migrations), the other tiering
 * instances, ingest, the archive, analytics and the gateway, waits until the gateway is ready, starts
 * a demo fleet of trading agents in-process, and prints where to look.
 * Ctrl-C stops everything.
 *
 * Every service process is supervised (processes.ts): one that exits is started
 * again with the same environment after a backoff, with one line saying so and
 * one with the new pid. Only Ctrl-C stops the stack; the one exception is a
 * service that exits with code 2 (a bad configuration) before the stack is
 * ready, since restarting cannot help.
 *
 * With the demo, ingest and the gateway run with the demo's scope policy
 * unless FB_SCOPE_POLICY or FB_SCOPE_POLICY_FILE is set, in which case that
 * one is used, unchanged.
 */
import http from 'node:http';
import { resolve } from 'node:path';
import { DEFAULT_ARCHIVE_DIR } from '@farmbrain/archive';
import type { CliConfig, Scalable } from '../config.js';
import { loadDemoFleet, type DemoFleet } from '../demoFleet.js';
import type { LineWriter } from '../output.js';
import { bannerFacts, bannerText } from './banner.js';
import { planInstances } from './instances.js';
import { waitForPipeline } from './pipeline.js';
import { checkBackingServices, checkBuilt, checkPortFree } from './preflight.js';
import { SupervisedService } from './processes.js';
import { resolveScopePolicy } from './scopePolicy.js';
import type { Phase } from './supervisor.js';

export interface StartOptions {
  demo: boolean;
  agents: number;
  port?: number | undefined;
  /** From --instances; what is not given comes from FB_<SVC>_INSTANCES (default 1). */
  instances: Partial<Record<Scalable, number>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function getStatus(host: string, port: number, path: string, timeoutMs = 1000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, body: err.code ?? err.message }));
  });
}

/** Runs the stack until Ctrl-C (or a failure); resolves with the exit code once everything stopped. */
export async function runStart(o: StartOptions, cfg: CliConfig, out: LineWriter, root: string): Promise<number> {
  const c = out.c;
  checkBuilt(root, ['tiering', 'ingest', 'archive', 'analytics', 'gateway']);
  const common = cfg.common;
  await checkBackingServices({ nats: common.natsUrl, redis: common.redisUrl, postgres: common.databaseUrl }, cfg.explicitUrls, c);

  const listen = cfg.gatewayListen;
  const port = o.port ?? listen.port;
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  const host = wildcard ? '127.0.0.1' : listen.host;
  await checkPortFree(host, port);
  const demo = o.demo ? await loadDemoFleet() : undefined;
  const demoSettings = cfg.demo; // read (and checked) before anything runs
  const scopes = resolveScopePolicy(cfg.userScopePolicy, demo?.demoScopePolicy(o.agents));
  // One archive for every service: the archive service writes it, tiering replays from it (a rebuild reads the
  // archive, then the stream). Unset: the default folder, made absolute so that they all mean the same one.
  const archiveUrl = cfg.childEnv.FB_ARCHIVE_URL || resolve(root, DEFAULT_ARCHIVE_DIR);
  const childEnv = { ...cfg.childEnv, ...scopes.env, FB_GATEWAY_PORT: String(port), FB_ARCHIVE_URL: archiveUrl };
  const counts = { ...cfg.instances, ...o.instances };
  const specs = planInstances(counts);
  for (const s of specs) out.widen(s.name);

  let phase: Phase = 'starting';
  // Read through a function: the phase changes in callbacks, which the compiler's narrowing does not see.
  const currentPhase = (): Phase => phase;
  let fleet: DemoFleet | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  let stopRequested!: () => void;
  const stopping = new Promise<void>((r) => (stopRequested = r));
  const ops = new Map<string, string>();
  const services: SupervisedService[] = [];

  const shutdown = async (code: number, why: string): Promise<void> => {
    if (phase === 'stopping') return;
    phase = 'stopping';
    stopRequested();
    // No restart from here on: pending ones are dropped, and an exit now is final.
    for (const s of services) s.cancelRestart();
    out.say(`${why}: shutting down…`);
    if (fleet) {
      out.say('stopping the demo fleet (flushing its events)…');
      const stopped = await Promise.race([
        fleet.stop().then(() => true, (err: unknown) => (out.say(c.red(`demo fleet stop failed: ${(err as Error)?.message ?? err}`)), true)),
        sleep(15_000).then(() => false),
      ]);
      if (!stopped) out.say(c.yellow('the demo fleet did not stop within 15 s; going on'));
      else if (code === 0) {
        const left = await waitForPipeline(common.natsUrl, common.namespace, common.partitions, 5000).catch(() => -1);
        if (left > 0) out.say(c.yellow(`${left} messages not yet projected; the services pick them up at the next start`));
      }
    }
    const alive = services.filter((s) => s.alive);
    for (const s of alive) s.kill('SIGTERM');
    const all = Promise.all(alive.map((s) => s.exited));
    // The services drain within FB_DRAIN_TIMEOUT_MS (each finishes and acks its batch, hands its leases back); a little more here.
    const graceMs = cfg.drainTimeoutMs + 2000;
    const done = await Promise.race([all.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      for (const s of alive) {
        if (s.alive) {
          out.say(c.yellow(`${s.name} did not stop within ${graceMs / 1000} s: killing it`));
          s.kill('SIGKILL');
        }
      }
      await Promise.race([all, sleep(2000)]);
    }
    for (const s of alive) {
      const r = await Promise.race([s.exited, sleep(0).then(() => undefined)]);
      if (r && r.code !== 0 && r.code !== null) out.say(c.yellow(`${s.name} exited with code ${r.code}`));
    }
    out.say(code === 0 ? 'stopped.' : `stopped (exit ${code}).`);
    finish(code);
  };

  const forceExit = () => {
    out.fail('\nforced exit: killing the services\n');
    for (const s of services) s.kill('SIGKILL');
    finish(1);
  };

  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // A second Ctrl-C forces; the same Ctrl-C delivered twice (the terminal
    // and a forwarding parent such as npm) within a moment does not.
    if (firstSignalAt) {
      if (Date.now() - firstSignalAt > 1000) forceExit();
      return;
    }
    firstSignalAt = Date.now();
    out.raw('\n');
    void shutdown(0, `${sig} received (press Ctrl-C again to force)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const supervise = (spec: (typeof specs)[number], onLine?: (msg: string | undefined) => void): SupervisedService => {
    const s = new SupervisedService({
      spec, root, env: childEnv, out, phase: () => phase,
      onLine: (p) => {
        if (p.msg === 'ops listening' && typeof p.json?.address === 'string') ops.set(spec.name, p.json.address);
        onLine?.(p.msg);
      },
      onFatal: (why) => void shutdown(1, why),
    });
    services.push(s);
    s.start();
    return s;
  };

  const redact = (u: string) => u.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  out.say(`starting farmbrain: namespace ${common.namespace}, ${common.partitions} partitions; NATS ${common.natsUrl}, `
    + `Redis ${common.redisUrl.replace(/\/\/[^@/]*@/, '//***@')}, Postgres ${redact(common.databaseUrl)}`);
  out.say(`scope policy ${scopes.label}`);
  out.say(`archive ${archiveUrl}`);
  if (counts.tiering > 1 || counts.ingest > 1 || counts.archive > 1) {
    out.say(`instances: tiering ×${counts.tiering}, ingest ×${counts.ingest}, archive ×${counts.archive} (they share the ${common.partitions} partitions through leases; `
      + 'extra instances serve ops on a free port, printed as "ops listening")');
  }

  void (async () => {
    // 1. tiering's first instance: applies the migrations, then reports it is running.
    const t0 = Date.now();
    let tieringUp!: (v: boolean) => void;
    const tieringRunning = new Promise<boolean>((r) => (tieringUp = r));
    const [first, ...rest] = specs;
    // A crash meanwhile is restarted (the bound below still holds); a bad
    // configuration (exit code 2) stops everything, from the exit handler.
    const tiering = supervise(first!, (msg) => {
      if (msg === 'tiering running') tieringUp(true);
    });
    const ok = await Promise.race([tieringRunning, stopping.then(() => false), sleep(30_000).then(() => null)]);
    if (currentPhase() === 'stopping' || ok === false) return;
    if (ok === null) {
      out.fail(`\n${c.red('✗')} ${tiering.name} did not finish starting (migrations, streams, consumers) within 30 s${tiering.restartedNote()}.${tiering.lastLines()}\n`);
      return shutdown(1, 'start-up timed out');
    }

    // 2. the other instances and the gateway; the gateway's /readyz says when everything answers.
    let gateway: SupervisedService | undefined;
    for (const spec of rest) {
      const s = supervise(spec);
      if (spec.service === 'gateway') gateway = s;
    }
    let last = { status: 0, body: '' };
    const deadline = Date.now() + 30_000;
    while (currentPhase() !== 'stopping') {
      last = await getStatus(host, port, '/readyz');
      if (last.status === 200 || currentPhase() !== 'starting') break;
      if (Date.now() > deadline) {
        const detail = last.status ? `last answer ${last.status} ${last.body}` : `no answer (${last.body})`;
        out.fail(`\n${c.red('✗')} the gateway was not ready within 30 s${gateway!.restartedNote()}: ${detail}.${gateway!.lastLines()}\n`);
        return shutdown(1, 'start-up timed out');
      }
      await sleep(250);
    }
    if (currentPhase() !== 'starting') return;
    phase = 'running';
    out.say(c.green(`all services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`));

    // 3. the demo fleet, in this process.
    if (demo) {
      try {
        fleet = await demo.startDemoFleet({
          natsUrl: common.natsUrl,
          namespace: common.namespace,
          partitions: common.partitions,
          gateway: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
          scopePolicy: scopes.policy,
          agents: o.agents,
          tickMs: demoSettings.tickMs,
          seed: demoSettings.seed,
          log: (msg) => out.say(String(msg), 'demo'),
        });
      } catch (err) {
        out.fail(`\n${c.red('✗')} the demo fleet could not start: ${(err as Error)?.message ?? err}\n`);
        return shutdown(1, 'demo fleet failed');
      }
      if (currentPhase() !== 'running') return;
    }
    const b = { host: wildcard ? 'localhost' : listen.host, port, namespace: common.namespace, fleet, scopeLabel: scopes.label, ops };
    out.block(bannerText(b, c), bannerFacts(b));
  })().catch((err: unknown) => {
    out.fail(`farmbrain: start failed: ${(err as Error)?.stack ?? err}\n`);
    void shutdown(1, 'start failed');
  });

  return finished;
}
