/**
 * The fleet: the market, the trading agents of a roster, the risk desk, and
 * their counters. It steps the market and every member, one tick at a time,
 * through the ports it is given (SDK clients, gateway reads): no network or
 * timers of its own, so a test drives it tick by tick against fakes.
 * startDemoFleet runs one against NATS and the gateway.
 */
import { EMPTY_SCOPE_POLICY, fnv1a32, parseScopePolicy, type ScopePolicy } from '@farmbrain/contracts';
import { DemoAgent } from './agent.js';
import { errorStack } from './format.js';
import { Market, SYMBOLS, WARM_UP_TICKS } from './market.js';
import type { FleetMember, MemberDeps } from './member.js';
import type { AgentSdk, GatewayHttp, Log } from './ports.js';
import { readMonitor } from './readMonitor.js';
import { RiskDesk } from './riskDesk.js';
import { demoRoster, demoScopePolicy, MAX_AGENTS, RISK_DESK_ID } from './roster.js';
import { newStats, progressLine, stoppedLine, type FleetStats } from './stats.js';

/** A scope policy as callers give it: parsed (writers and teams each optional), or its JSON text. */
export type ScopePolicyInput = string | { writers?: Record<string, readonly string[]>; teams?: Record<string, readonly string[]> };

/** The policy a fleet works under: `input` (parsed when text), else the demo's; writers and teams always present. */
export function resolvePolicy(input: ScopePolicyInput | undefined, agents: number): ScopePolicy {
  const given = input ?? demoScopePolicy(agents);
  const parsed = typeof given === 'string' ? parseScopePolicy(given) : given;
  return { writers: {}, teams: {}, ...(parsed ?? EMPTY_SCOPE_POLICY) };
}

/**
 * The market's seed in a session: the fleet's seed in the first, a value
 * derived from it and the session number after (each session is a new stretch
 * of the market, so a run recalls earlier runs' memories rather than copies of
 * what it is about to live).
 */
export const marketSeed = (seed: number, session: number): number =>
  session === 1 ? seed >>> 0 : (seed ^ fnv1a32(`session ${session}`)) >>> 0;

/** Checks a fleet size; throws a RangeError naming it. */
export function checkAgents(agents: number): void {
  if (!Number.isInteger(agents) || agents < 1 || agents > MAX_AGENTS) {
    throw new RangeError(`agents must be an integer from 1 to ${MAX_AGENTS}, got ${agents}`);
  }
}

export interface FleetOptions {
  agents: number;
  seed: number;
  /** Which run this is in the namespace: 1, 2, ... */
  session: number;
  /** Distinguishes this run's order and correlation ids from other runs'. */
  runTag: string;
  policy: ScopePolicy;
  /** The SDK client of each member, by agent id. */
  sdkFor: (agentId: string) => AgentSdk;
  /** Absent: members record but never read. */
  gateway?: GatewayHttp | undefined;
  log: Log;
  /** Epoch ms. Default Date.now. */
  now?: () => number;
}

/** A trading agent as the banner shows it. */
export interface RosterView {
  id: string;
  team: string;
  lead: boolean;
  symbols: string[];
}

export class Fleet {
  readonly market: Market;
  readonly stats: FleetStats = newStats();
  readonly traders: DemoAgent[];
  readonly risk: RiskDesk;
  readonly session: number;
  readonly #log: Log;

  constructor(o: FleetOptions) {
    checkAgents(o.agents);
    this.session = o.session;
    this.#log = o.log;
    this.market = new Market(marketSeed(o.seed, o.session));
    for (let i = 0; i < WARM_UP_TICKS; i++) this.market.step(); // history for the lookbacks
    const reads = readMonitor(o.log, this.stats);
    const deps = (id: string): MemberDeps => ({
      sdk: o.sdkFor(id), gateway: o.gateway, policy: o.policy, reads, log: o.log, stats: this.stats, now: o.now ?? Date.now,
    });
    this.traders = demoRoster(o.agents).map((me) =>
      new DemoAgent({ me, seed: o.seed, session: o.session, market: this.market, runTag: o.runTag }, deps(me.id)));
    const risk = new RiskDesk({ market: this.market, traders: this.traders, session: o.session }, deps(RISK_DESK_ID));
    this.risk = risk;
  }

  /** Every member: the trading agents, then the risk desk. */
  get members(): FleetMember[] {
    return [...this.traders, this.risk];
  }

  /** Events recorded but not yet acknowledged, over all members. */
  get pending(): number {
    return this.members.reduce((n, a) => n + a.sdk.pending, 0);
  }

  /** Every member registers and marks itself active. */
  async start(): Promise<void> {
    await Promise.all(this.members.map((a) => a.start()));
  }

  /** Memory set-up (playbooks, risk limits, leftovers of a killed run); needs the gateway. */
  async prepare(): Promise<void> {
    await Promise.all(this.members.map((a) => a.prepare()));
  }

  /** One tick: the market moves, every member acts (a failure is counted and logged); a progress line every 40 ticks. */
  async tick(): Promise<void> {
    this.market.step();
    await Promise.all(this.members.map((a) => a.tick().catch((err: unknown) => {
      this.stats.errors += 1;
      this.#log(`${a.id}: tick failed: ${errorStack(err)}`);
    })));
    if (this.market.tick % 40 === 0) this.#log(progressLine(this.market.tick, this.stats, this.realizedPnl, this.openPositions));
  }

  /** `clean`: the last tick finished, so members wind down (flatten, withdraw alerts, mark stopped); then each client closes. */
  async stop(timeoutMs: number, clean: boolean): Promise<void> {
    await Promise.all(this.members.map((a) => a.stop(timeoutMs, clean)));
  }

  get realizedPnl(): number {
    return this.traders.reduce((s, a) => s + a.pnl.realized, 0);
  }

  get openPositions(): number {
    return this.traders.reduce((s, a) => s + a.positions.size, 0);
  }

  get roster(): RosterView[] {
    return this.traders.map((a) => ({ id: a.id, team: a.team, lead: a.lead, symbols: [...a.symbols] }));
  }

  /** The current situation vector of a symbol (SITUATION_FEATURES). */
  situation(symbol: string): number[] {
    return this.market.features(symbol).situation;
  }

  /** What the fleet says when it starts. */
  startLines(tickMs: number, seed: number, gateway: string | undefined): string[] {
    const s = this.session;
    const leads = this.traders.filter((a) => a.lead).map((a) => a.id);
    return [
      `demo fleet: ${this.traders.length} agents (${this.traders.map((a) => a.id).join(', ')}) and ${this.risk.id} watching ${SYMBOLS.map((x) => x.symbol).join(', ')}, ` +
        `a tick every ${tickMs} ms, seed ${seed}, session ${s}${s > 1 ? ' (earlier sessions\' memories are recalled)' : ''}`,
      gateway
        ? `demo fleet: before deciding, agents recall memories and similar past decisions from ${gateway}; leads ${leads.join(', ')} keep team memories, ${this.risk.id} fleet memories`
        : 'demo fleet: no gateway given: agents record but do not read their memory back',
    ];
  }

  /** What the fleet says once stopped. */
  stoppedLine(): string {
    return stoppedLine(this.stats);
  }
}
