/**
 * `farmbrain rebuild | switch | drop`: blue/green versions of a projection.
 * A rebuild registers a new version; every running instance of the service
 * applies it from the start of the canonical log into its own schema and key
 * prefix while the live one keeps serving. `switch` moves readers (the gateway,
 * consistency tokens) to it; `drop` deletes a version that is not live.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { consumerGroup, names as makeNames, type Names } from '@farmbrain/contracts';
import { connectNats, connectPostgres, connectRedis } from '@farmbrain/platform';
import { ProjectionRegistry, type ProjectionVersion } from '@farmbrain/projection';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { DropArgs, Io, RebuildArgs, SwitchArgs } from '../program.js';
import { EventCount } from '../versions/eventCount.js';
import { progressReporter } from '../versions/progress.js';
import { caughtUp, groupLag } from '../versions/lag.js';
import { deleteDurables, deleteHotKeys, dropSchema, waitLeasesReleased } from '../versions/versionStores.js';

/** Services whose projection can be rebuilt. */
const REBUILDABLE = ['tiering'] as const;


interface Ctx {
  n: Names;
  nc: NatsConnection;
  jsm: JetStreamManager;
  registry: ProjectionRegistry;
  firstVersion: string;
}

async function withCtx<T>(cfg: CliConfig, fn: (c: Ctx) => Promise<T>): Promise<T> {
  const n = makeNames(cfg.common.namespace, cfg.common.partitions);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const registry = await ProjectionRegistry.open(nc, n);
    return await fn({ n, nc, jsm, registry, firstVersion: cfg.tieringProjection });
  } finally {
    await nc.close();
  }
}

function serviceOf(s: string): 'tiering' {
  if (!(REBUILDABLE as readonly string[]).includes(s)) throw new CliError('UNKNOWN_SERVICE', `'${s}' has no projection to rebuild (rebuildable: ${REBUILDABLE.join(', ')})`);
  return s as 'tiering';
}

const durableOf = (n: Names, v: string) => (p: number) => n.durable(consumerGroup(v), p);

export async function rebuildCommand(service: string, a: RebuildArgs, cfg: CliConfig, io: Io): Promise<number> {
  const svc = serviceOf(service);
  return withCtx(cfg, async ({ n, nc, jsm, registry, firstVersion }) => {
    const reg = await registry.add(svc, firstVersion, a.as);
    const v = reg.versions[a.as]!;
    if (!a.wait) {
      io.out(a.json ? `${JSON.stringify({ version: v, live: reg.live, waiting: false })}\n` : `${a.as} registered (schema ${v.schema}, Redis prefix ${v.redisPrefix}); the ${svc} instances rebuild it from the log. farmbrain status shows how far.\n`);
      return 0;
    }
    const t0 = performance.now();
    const counted = new EventCount(await new Kvm(nc).open(n.leaseBucket).catch(() => undefined), consumerGroup(a.as), n.partitions);
    const progress = progressReporter({ label: `rebuild ${a.as}`, json: a.json, tty: Boolean(process.stdout.isTTY) && !a.json, io });
    let noInstanceSince = Date.now();
    let hinted = false;
    /** When the first instance took up the version: applying starts (the time before is the instances noticing it). */
    let applyingSince: number | undefined;
    for (;;) {
      const lag = await groupLag(jsm, n.eventsStream, durableOf(n, a.as), n.partitions);
      if (lag.running > 0) {
        noInstanceSince = Date.now();
        applyingSince ??= performance.now();
      }
      else if (!hinted && Date.now() - noInstanceSince > 15_000) {
        hinted = true;
        io.err(`farmbrain: no ${svc} instance has taken up ${a.as} yet: is one running in namespace ${n.namespace}? (farmbrain start, or npm start)\n`);
      }
      progress.update(lag, await counted.read());
      if (caughtUp(lag)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const end = performance.now();
    const seconds = (end - t0) / 1000;
    const applySeconds = (end - (applyingSince ?? t0)) / 1000;
    const last = await groupLag(jsm, n.eventsStream, durableOf(n, a.as), n.partitions);
    // The instances publish their counts with each lease renewal (every third of the TTL): wait for the last one.
    const deadline = Date.now() + 5000;
    let events = await counted.read();
    for (let prev = -1; events !== prev && Date.now() < deadline; ) {
      prev = events;
      await new Promise((r) => setTimeout(r, 2100));
      events = await counted.read();
    }
    progress.done();
    const summary = {
      version: a.as, schema: v.schema, redisPrefix: v.redisPrefix, messages: last.messages, events, seconds, applySeconds,
      messagesPerSecond: last.messages / applySeconds, eventsPerSecond: events / applySeconds, live: reg.live,
    };
    io.out(a.json ? `${JSON.stringify(summary)}\n`
      : `${a.as} caught up with the log: ${last.messages.toLocaleString()} messages, ${events.toLocaleString()} events in ${applySeconds.toFixed(1)} s of applying (${Math.round(summary.eventsPerSecond).toLocaleString()} events/s; ${seconds.toFixed(1)} s in all). `
        + `Readers still use ${reg.live}; move them with: farmbrain switch ${svc} ${a.as}\n`);
    return 0;
  });
}

export async function switchCommand(service: string, version: string, a: SwitchArgs, cfg: CliConfig, io: Io): Promise<number> {
  const svc = serviceOf(service);
  return withCtx(cfg, async ({ n, jsm, registry, firstVersion }) => {
    const before = await registry.read(svc, firstVersion);
    if (before.live === version) {
      io.out(a.json ? `${JSON.stringify({ live: version, changed: false })}\n` : `${version} is already the live version of ${svc}\n`);
      return 0;
    }
    if (!before.versions[version]) throw new CliError('UNKNOWN_VERSION', `${version} is not a version of ${svc} (versions: ${Object.keys(before.versions).join(', ')}); build it first: farmbrain rebuild ${svc} --as ${version}`);
    const lag = await groupLag(jsm, n.eventsStream, durableOf(n, version), n.partitions);
    if (!caughtUp(lag, a.maxLag)) {
      throw new CliError('NOT_CAUGHT_UP', `${version} is ${lag.running < lag.partitions ? `running on ${lag.running} of ${lag.partitions} partitions` : `${lag.pending.toLocaleString()} messages behind the log`}; `
        + `wait for its rebuild to finish (farmbrain rebuild shows progress, farmbrain status the lag), or allow more with --max-lag`);
    }
    await registry.setLive(svc, firstVersion, version);
    // The gateway follows the registry (within a second) and answers /readyz with what it serves.
    const gateway = a.gateway ?? cfg.gatewayUrl;
    const deadline = Date.now() + 60_000;
    let serving: string | undefined;
    while (Date.now() < deadline) {
      serving = await fetch(`${gateway}/readyz`).then(async (r) => ((await r.json()) as { serving?: { tiering?: string } }).serving?.tiering, () => undefined);
      if (serving === version) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const confirmed = serving === version;
    io.out(a.json ? `${JSON.stringify({ live: version, previous: before.live, changed: true, gateway, gatewayServing: serving ?? null })}\n`
      : `readers of ${svc} moved from ${before.live} to ${version}. ${confirmed ? `The gateway at ${gateway} serves ${version}.` : `The gateway at ${gateway} did not confirm (${serving ? `serves ${serving}` : 'not reachable'}); each gateway switches when it reads the registry.`} `
        + `${before.live} stays until: farmbrain drop ${before.live}\n`);
    return 0;
  });
}

export async function dropCommand(version: string, a: DropArgs, cfg: CliConfig, io: Io): Promise<number> {
  const svc = serviceOf(version.split('.')[0] ?? '');
  return withCtx(cfg, async ({ n, nc, jsm, registry, firstVersion }) => {
    const reg = await registry.markDropping(svc, firstVersion, version);
    const v: ProjectionVersion = reg.versions[version]!;
    // The instances stop applying it (they drain and hand its leases back); wait for its last lease to go.
    const group = consumerGroup(version);
    await waitLeasesReleased(nc, n, group, a.timeoutMs, (held) => new CliError('VERSION_BUSY',
      `${version} is still applied by instances (${held} lease and member keys left); they stop it within a few seconds of reading the registry. Run farmbrain drop ${version} again`));
    const durables = await deleteDurables(jsm, n, v);
    const pool = await connectPostgres(cfg.common.databaseUrl, n.pgSchema, { max: 1 });
    try {
      await dropSchema(pool, v);
    } finally {
      await pool.end();
    }
    const redis = await connectRedis(cfg.common.redisUrl, 'farmbrain-cli');
    let keys = 0;
    try {
      keys = await deleteHotKeys(redis, v);
    } finally {
      redis.disconnect();
    }
    await registry.remove(svc, firstVersion, version);
    io.out(a.json ? `${JSON.stringify({ dropped: version, schema: v.schema, durables, redisKeys: keys })}\n`
      : `${version} dropped: schema ${v.schema}, ${durables} durables, ${keys} Redis keys deleted\n`);
    return 0;
  });
}
