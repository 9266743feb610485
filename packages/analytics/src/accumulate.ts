import type { FarmEvent } from '@farmbrain/contracts';
import { GRAINS, type Grain, type Scope } from './types.js';
import { bucketOf } from './buckets.js';
import { brierOf, calibrationBin } from './calibration.js';
import { latencyBin } from './histogram.js';
import { ExactSum } from './exactSum.js';

/** The additive figures of a rollup row (column `snake_case` of each key in table `rollups`). */
export const COUNTERS = [
  'decisionsBuy', 'decisionsSell', 'decisionsHold', 'decisionsClose', 'trades', 'notional', 'closes', 'wins', 'pnl', 'pnlAbs',
  'scored', 'scoredWins', 'brierSum', 'citedScored', 'citedWins', 'memoryWrites', 'recalls', 'recallHits', 'hotHits',
  'usefulRecalls', 'consolidations', 'merged',
] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counters = Record<Counter, number>;

/** Counters that are sums of real numbers (numeric columns, summed exactly: see ExactSum); the others are counts. */
export const REAL_COUNTER_LIST = ['notional', 'pnl', 'pnlAbs', 'brierSum'] as const satisfies readonly Counter[];
export type RealCounter = (typeof REAL_COUNTER_LIST)[number];
export const REAL_COUNTERS: ReadonlySet<Counter> = new Set<Counter>(REAL_COUNTER_LIST);

export const columnOf = (c: Counter): string => c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

export const zeroCounters = (): Counters => Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters;

export interface RollupKey {
  scope: Scope;
  scopeId: string;
  grain: Grain;
  /** Epoch ms. */
  bucket: number;
}

/** What a decision needs to be scored later. */
export interface DecisionFacts {
  decisionId: string;
  agentId: string;
  action: string;
  confidence: number;
  /** Distinct memories it cited. */
  citedMemories: number;
  occurredAt: number;
}

export interface AgentFacts {
  agentId: string;
  /** Set when the batch held an agent_registered. */
  registered?: { name: string; team: string };
  lastEventAt: number;
}

/** A batch's effect: increments per row (keys sorted), plus the agents and decisions to keep. */
export interface Accumulated {
  /** `exact`: the real counters as exact decimal sums (what is written); `c` has them as the nearest doubles. */
  rollups: { key: RollupKey; c: Counters; exact: Record<RealCounter, string> }[];
  calibration: { key: RollupKey; bin: number; n: number; wins: number; confidenceSum: string }[];
  latency: { key: RollupKey; bin: number; n: number }[];
  decisions: DecisionFacts[];
  agents: AgentFacts[];
}

/** What the batch needs from before it: each agent's current team, and the decisions its closes name. */
export interface Known {
  team(agentId: string): string | undefined;
  decision(decisionId: string): DecisionFacts | undefined;
}

export const keyString = (k: RollupKey): string => `${k.scope}\u0000${k.scopeId}\u0000${k.grain}\u0000${String(k.bucket).padStart(16, '0')}`;

/** Decision ids named by the batch's position_closed events that the batch itself does not define (to look up). */
export function namedDecisions(events: readonly FarmEvent[]): string[] {
  const defined = new Set<string>();
  const named = new Set<string>();
  for (const e of events) {
    if (e.type === 'decision_made') defined.add(e.eventId.toLowerCase());
    else if (e.type === 'position_closed') for (const id of e.data.decisionIds) if (!defined.has(id.toLowerCase())) named.add(id.toLowerCase());
  }
  return [...named].sort();
}

/** Agents of the batch (whose team the batch needs). */
export const agentsOf = (events: readonly FarmEvent[]): string[] => [...new Set(events.map((e) => e.agentId))].sort();

/**
 * Folds a batch (log order) into increments. Every figure is a sum over events, so folding a log in any split
 * into batches, each with `known` carried from the batches before, adds up to the same rows. Attribution: an
 * event counts in the buckets of its own occurredAt, under the agent's team as of that event; outcome figures
 * (scored, brier, calibration, cited wins) count in the bucket of the position_closed, once per distinct decision
 * it names that is a decision of the same agent.
 */
export function accumulate(events: readonly FarmEvent[], known: Known): Accumulated {
  const rows = new Map<string, { key: RollupKey; c: Counters; sums: Record<RealCounter, ExactSum> }>();
  const cal = new Map<string, { key: RollupKey; bin: number; n: number; wins: number; confidenceSum: ExactSum }>();
  const lat = new Map<string, { key: RollupKey; bin: number; n: number }>();
  const teams = new Map<string, string>();
  const decisions = new Map<string, DecisionFacts>();
  const agents = new Map<string, AgentFacts>();

  const keysOf = (agentId: string, t: number): RollupKey[] => {
    const team = teams.get(agentId) ?? known.team(agentId) ?? '';
    const out: RollupKey[] = [];
    for (const grain of GRAINS) {
      const bucket = bucketOf(t, grain);
      out.push({ scope: 'agent', scopeId: agentId, grain, bucket }, { scope: 'team', scopeId: team, grain, bucket }, { scope: 'fleet', scopeId: '', grain, bucket });
    }
    return out;
  };
  const add = (keys: readonly RollupKey[], delta: Partial<Counters>) => {
    for (const key of keys) {
      const s = keyString(key);
      let r = rows.get(s);
      if (!r) rows.set(s, (r = { key, c: zeroCounters(), sums: { notional: new ExactSum(), pnl: new ExactSum(), pnlAbs: new ExactSum(), brierSum: new ExactSum() } }));
      for (const [c, v] of Object.entries(delta) as [Counter, number][]) {
        if (REAL_COUNTERS.has(c)) r.sums[c as RealCounter].add(v);
        else r.c[c] += v;
      }
    }
  };

  for (const e of events) {
    const a = agents.get(e.agentId) ?? { agentId: e.agentId, lastEventAt: e.occurredAt };
    a.lastEventAt = Math.max(a.lastEventAt, e.occurredAt);
    agents.set(e.agentId, a);
    switch (e.type) {
      case 'agent_registered':
        a.registered = { name: e.data.name, team: e.data.team };
        teams.set(e.agentId, e.data.team);
        break;
      case 'decision_made': {
        const d = e.data;
        const action = d.action === 'buy' ? 'decisionsBuy' : d.action === 'sell' ? 'decisionsSell' : d.action === 'hold' ? 'decisionsHold' : 'decisionsClose';
        add(keysOf(e.agentId, e.occurredAt), { [action]: 1, usefulRecalls: new Set(d.recallIds).size });
        decisions.set(e.eventId.toLowerCase(), { decisionId: e.eventId.toLowerCase(), agentId: e.agentId, action: d.action, confidence: d.confidence, citedMemories: new Set(d.memoryIds).size, occurredAt: e.occurredAt });
        break;
      }
      case 'trade_executed':
        add(keysOf(e.agentId, e.occurredAt), { trades: 1, notional: e.data.qty * e.data.price });
        break;
      case 'position_closed': {
        const pnl = e.data.realizedPnl;
        const win = pnl > 0;
        const keys = keysOf(e.agentId, e.occurredAt);
        add(keys, { closes: 1, wins: win ? 1 : 0, pnl, pnlAbs: Math.abs(pnl) });
        // Event ids are UUIDs, compared in one spelling (the kit and Postgres give them in lower case).
        for (const id of new Set(e.data.decisionIds.map((x) => x.toLowerCase()))) {
          const d = decisions.get(id) ?? known.decision(id);
          if (!d || d.agentId !== e.agentId) continue;
          const cited = d.citedMemories > 0;
          add(keys, { scored: 1, scoredWins: win ? 1 : 0, brierSum: brierOf(d.confidence, win), citedScored: cited ? 1 : 0, citedWins: cited && win ? 1 : 0 });
          const bin = calibrationBin(d.confidence);
          for (const key of keys) {
            const s = `${keyString(key)}\u0000${bin}`;
            let r = cal.get(s);
            if (!r) cal.set(s, (r = { key, bin, n: 0, wins: 0, confidenceSum: new ExactSum() }));
            r.n += 1;
            r.wins += win ? 1 : 0;
            r.confidenceSum.add(d.confidence);
          }
        }
        break;
      }
      case 'memory_stored':
      case 'memory_updated':
        add(keysOf(e.agentId, e.occurredAt), { memoryWrites: 1 });
        break;
      case 'memory_recalled': {
        const keys = keysOf(e.agentId, e.occurredAt);
        add(keys, { recalls: 1, recallHits: e.data.hits.length, hotHits: e.data.hits.filter((h) => h.tier === 'hot').length });
        if (e.data.latencyMs > 0) {
          const bin = latencyBin(e.data.latencyMs);
          for (const key of keys) {
            const s = `${keyString(key)}\u0000${bin}`;
            let r = lat.get(s);
            if (!r) lat.set(s, (r = { key, bin, n: 0 }));
            r.n += 1;
          }
        }
        break;
      }
      case 'memories_consolidated':
        add(keysOf(e.agentId, e.occurredAt), { consolidations: 1, merged: e.data.mergedIds.length });
        break;
      default:
        break;
    }
  }
  const byKey = <T extends { key: RollupKey; bin?: number }>(m: Map<string, T>): T[] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return {
    rollups: byKey(rows).map(({ key, c, sums }) => {
      const exact = Object.fromEntries(REAL_COUNTER_LIST.map((k) => [k, sums[k].toString()])) as Record<RealCounter, string>;
      for (const k of REAL_COUNTER_LIST) c[k] = Number(exact[k]);
      return { key, c, exact };
    }),
    calibration: byKey(cal).map((r) => ({ ...r, confidenceSum: r.confidenceSum.toString() })),
    latency: byKey(lat),
    decisions: [...decisions.values()].sort((x, y) => (x.decisionId < y.decisionId ? -1 : 1)),
    agents: [...agents.values()].sort((x, y) => (x.agentId < y.agentId ? -1 : 1)),
  };
}

/** The event types the rollups count (besides alert_changed, which the alerts table keeps). */
export const ROLLUP_EVENT_TYPES = ['agent_registered', 'decision_made', 'trade_executed', 'position_closed', 'memory_stored', 'memory_updated', 'memory_recalled', 'memories_consolidated'] as const;
