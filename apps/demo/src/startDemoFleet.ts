/**
 * A fleet running for real: one shared NATS connection, an SDK client per
 * member, the gateway for reads, a tick every tickMs, a watchdog for stalled
 * acknowledgements, and a stop that flattens, withdraws, flushes and closes.
 */
import { connect } from '@nats-io/transport-node';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { DEMO_DEFAULTS } from './config.js';
import { checkAgents, Fleet, resolvePolicy, type RosterView, type ScopePolicyInput } from './fleet.js';
import { httpGateway, READ_TIMEOUT_MS } from './gateway.js';
import type { AgentSdk, Log } from './ports.js';
import type { FleetStats } from './stats.js';

export interface DemoFleetOptions {
  /** NATS server(s), comma-separated. Default nats://127.0.0.1:4222. */
  natsUrl?: string;
  /** The deployment's FB_NAMESPACE and FB_PARTITIONS. Defaults 'fb', 8. */
  namespace?: string;
  partitions?: number;
  /** The gateway's base URL; without it agents record but do not read their memory back. */
  gateway?: string | undefined;
  /** The policy ingest runs with (parsed, or its JSON text); default demoScopePolicy(agents). A shared memory it would refuse is kept private. */
  scopePolicy?: ScopePolicyInput | undefined;
  /** Trading agents, 1..200. Default 6. */
  agents?: number;
  /** Default 500. */
  tickMs?: number;
  /** Default 42. */
  seed?: number;
  /** Default console.log. */
  log?: Log;
}

/** A running fleet. */
export interface DemoFleet {
  /** The trading agents' ids. */
  agents: string[];
  riskDesk: string;
  roster: RosterView[];
  /** Live counters. */
  stats: FleetStats;
  /** The current situation vector of a symbol (SITUATION_FEATURES). */
  situation(symbol: string): number[];
  /** Flattens positions, withdraws alerts, flushes and closes; once (later calls return the same promise). Default timeout 8000 ms. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Resolves true when `p` settles within ms, else false (p goes on). */
const within = (p: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
  ]);

/**
 * Starts `agents` simulated trading agents and the risk desk on one shared
 * NATS connection; a new tick every `tickMs`. With `gateway` (the gateway's
 * base URL) they also read their memory back (recall, similar decisions);
 * without, they only record. `scopePolicy` is the policy ingest runs with
 * (parsed, or its JSON text; default: demoScopePolicy(agents)): a shared
 * memory it would refuse is kept private instead.
 *
 * Each run in a namespace is the next session of the demo (one more than the
 * session the risk desk registered with last): the same agents on the
 * market's next stretch, so what they recall from earlier runs is not a copy
 * of what they are about to live.
 */
export async function startDemoFleet(opts: DemoFleetOptions = {}): Promise<DemoFleet> {
  const {
    natsUrl = DEMO_DEFAULTS.natsUrl,
    namespace = DEMO_DEFAULTS.namespace,
    partitions = DEMO_DEFAULTS.partitions,
    gateway,
    scopePolicy,
    agents = DEMO_DEFAULTS.agents,
    tickMs = DEMO_DEFAULTS.tickMs,
    seed = DEMO_DEFAULTS.seed,
    log = console.log,
  } = opts;
  checkAgents(agents);
  const policy = resolvePolicy(scopePolicy, agents);
  const base = gateway ? String(gateway).replace(/\/+$/, '') : undefined;
  const gw = base ? httpGateway(base, READ_TIMEOUT_MS) : undefined;
  const nc = await connect({
    servers: natsUrl.split(','),
    name: 'farmbrain-demo-fleet',
    timeout: 3000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const last = await gw?.lastSession();
  const sdkFor = (agentId: string): AgentSdk => new FarmbrainAgent({
    agentId,
    connection: nc,
    namespace,
    partitions,
    ...(base ? { gateway: base, gatewayTimeoutMs: READ_TIMEOUT_MS } : {}),
  });
  const fleet = new Fleet({
    agents, seed, session: last === undefined ? 1 : last + 1, runTag: Date.now().toString(36), policy, sdkFor, gateway: gw, log,
  });
  // Registrations normally take milliseconds; if JetStream does not acknowledge
  // them (no ingress stream, NATS trouble) the fleet still starts, and says so.
  if (!(await within(fleet.start(), 10_000))) {
    log(`demo fleet: registrations not acknowledged by JetStream within 10 s (is ingress stream ${namespace.toUpperCase()}_INGRESS provisioned?); going on`);
  }
  // Shared memories kept across runs, leftovers of a killed run. Reads time out on their own; this bounds the lot.
  if (base && !(await within(fleet.prepare(), 30_000))) {
    log('demo fleet: memory set-up (playbooks, risk limits, leftover positions) still running after 30 s; going on');
  }
  for (const line of fleet.startLines(tickMs, seed, base)) log(line);

  let stopping = false;
  let wake: (() => void) | undefined;
  let tickStarted = Date.now();
  let lastStallLog = 0;
  // A tick waits for its events to be acknowledged; say so when that takes long.
  const watchdog = setInterval(() => {
    const stalled = Date.now() - tickStarted;
    if (stopping || stalled < 5000 || Date.now() - lastStallLog < 15_000) return;
    lastStallLog = Date.now();
    log(`demo fleet: tick ${fleet.market.tick} has waited ${(stalled / 1000).toFixed(0)} s for JetStream to acknowledge ${fleet.pending} events (is NATS up?)`);
  }, 1000).unref();
  const loop = (async () => {
    while (!stopping) {
      const started = (tickStarted = Date.now());
      await fleet.tick();
      tickStarted = Infinity; // not stalled while sleeping
      const wait = Math.max(10, tickMs - (Date.now() - started));
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, wait);
      });
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    agents: fleet.traders.map((a) => a.id),
    riskDesk: fleet.risk.id,
    roster: fleet.roster,
    stats: fleet.stats,
    situation: (symbol) => fleet.situation(symbol),
    stop(timeoutMs = 8000) {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(watchdog);
        wake?.();
        // A tick blocked on an unreachable NATS does not hold the stop up: close() times it out.
        const finished = await within(loop, Math.min(3000, timeoutMs));
        await fleet.stop(timeoutMs, finished);
        await nc.drain().catch(() => nc.close());
        log(fleet.stoppedLine());
      })();
      return stopped;
    },
  };
}
