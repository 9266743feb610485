/**
 * One simulated trading agent: each tick, per symbol, it manages its open
 * position or considers an entry (consulting its memory through the gateway
 * first), records decisions, trades and closes with P&L, stores observations,
 * lessons and reflections, forgets stale ones, and checkpoints. The rules are
 * the pure ones of strategies, decisions and trading; this class does the I/O.
 */
import { fnv1a32, type RecallResponse, type SimilarDecisionsResponse, type Side } from '@farmbrain/contracts';
import { closeMemory, isNotable, observationMemory, PLAYBOOKS } from './memoryTexts.js';
import {
  decidesNow,
  entryDecision,
  exitCheck,
  holdConfidence,
  workingMemories,
  type CloseReason,
  type OwnMemory,
} from './decisions.js';
import { cut, pct, round, usd } from './format.js';
import { SITUATION_FEATURES, SYMBOLS, type Features, type Market } from './market.js';
import { FleetMember, type MemberDeps } from './member.js';
import type { RosterEntry, StrategyName } from './roster.js';
import { rng, type Rng } from './rng.js';
import { drawParams, signal, type SignalAction, type StrategyParams } from './strategies.js';
import { closingSide, fill, moveOf, realizedPnl, sideOf, type Position } from './trading.js';

/** Where an agent stands: what its checkpoints record. */
export interface AgentPnl {
  realized: number;
  fees: number;
  wins: number;
  losses: number;
  trades: number;
}

/** The two symbols the agent at `index` trades. */
export function symbolsOf(index: number): [string, string] {
  const n = SYMBOLS.length;
  return [SYMBOLS[index % n]!.symbol, SYMBOLS[(index + 1 + Math.floor(index / n)) % n]!.symbol];
}

/** Checkpoints every this many ticks, staggered across agents. */
const CHECKPOINT_EVERY = 20;

export interface AgentOptions {
  me: RosterEntry;
  seed: number;
  session: number;
  market: Market;
  /** Keeps order and correlation ids unique across runs in one namespace. */
  runTag: string;
}

export class DemoAgent extends FleetMember {
  readonly name: string;
  readonly team: string;
  readonly strategy: StrategyName;
  readonly lead: boolean;
  readonly symbols: string[];
  readonly params: StrategyParams;
  /** symbol -> open position */
  readonly positions = new Map<string, Position>();
  /** This run's own memories. */
  readonly memories: OwnMemory[] = [];
  readonly pnl: AgentPnl = { realized: 0, fees: 0, wins: 0, losses: 0, trades: 0 };
  readonly #r: Rng;
  readonly #market: Market;
  readonly #runTag: string;
  readonly #session: number;
  readonly #checkpointOffset: number;
  #orderSeq = 0;
  #lastObservation = -1000;
  ticks = 0;

  constructor({ me, seed, session, market, runTag }: AgentOptions, deps: MemberDeps) {
    super(me.id, deps);
    this.name = me.name;
    this.team = me.team;
    this.strategy = me.strategy;
    this.lead = me.lead;
    this.#r = rng(seed ^ fnv1a32(this.id));
    this.#market = market;
    this.#runTag = runTag;
    this.#session = session;
    this.#checkpointOffset = fnv1a32(this.id);
    this.symbols = symbolsOf(me.index);
    this.params = drawParams(this.strategy, this.#r);
  }

  async start(): Promise<void> {
    await this.call('register', () => this.sdk.register({
      name: this.name,
      team: this.team,
      strategy: this.strategy,
      config: { ...this.params, symbols: this.symbols, lookback: 20, lead: this.lead, situation: SITUATION_FEATURES, session: this.#session },
    }));
    // Explicitly active again (a previous run ended with 'stopped'; a re-registration alone does not reset it in Postgres).
    await this.call('setStatus', () => this.sdk.setStatus('active', { reason: 'demo fleet started' }));
  }

  /** Memory set-up once the gateway answers: books left open by an earlier run, and the lead's team playbook. */
  async prepare(): Promise<void> {
    await this.#closeLeftovers();
    if (this.lead) {
      const { scope, scopeId } = this.scopeFor('team', this.team);
      if (scope === 'team') {
        await this.keepShared({
          kind: 'procedure', tags: ['playbook', this.team], text: PLAYBOOKS[this.strategy](this.params), importance: 0.8,
          scope, scopeId, label: `the ${this.team} team playbook`,
        });
      }
    }
  }

  /**
   * Positions an earlier run left open (it was killed before it could flatten):
   * closed at their entry price (that run's market is gone; the loss is the
   * fees), so each run starts with flat books.
   */
  async #closeLeftovers(): Promise<void> {
    if (!this.gateway) return;
    const open = await this.read('list open positions', (gw) => gw.openPositions(this.id));
    for (const p of open ?? []) {
      if (!p.qty) continue;
      const side = p.qty > 0 ? 'long' : 'short';
      const realizedPnl = round(-(p.fees ?? 0), 2);
      const d = await this.call('recordDecision', () => this.sdk.recordDecision({
        symbol: p.symbol, action: 'close', size: Math.abs(p.qty), confidence: 1,
        rationale: `restart: an earlier run left this ${side} ${Math.abs(p.qty)} ${p.symbol} open; closing it at its entry price ${p.avgPrice}`,
      }));
      const c = await this.call('closePosition', () => this.sdk.closePosition({
        symbol: p.symbol, realizedPnl, exitPrice: p.avgPrice, decisionIds: [...(p.decisionIds ?? []), ...(d ? [d.eventId] : [])],
      }));
      if (c) this.log(`${this.id} closes the ${side} ${Math.abs(p.qty)} ${p.symbol} an earlier run left open: P&L ${usd(realizedPnl)}`);
    }
  }

  async tick(): Promise<void> {
    this.ticks += 1;
    for (const symbol of this.symbols) {
      const f = this.#market.features(symbol);
      const pos = this.positions.get(symbol);
      if (pos) await this.#manage(symbol, pos, f);
      else await this.#consider(symbol, f);
    }
    await this.#maybeObserve();
    await this.#maybeForget();
    if ((this.ticks + this.#checkpointOffset) % CHECKPOINT_EVERY === 0) await this.checkpoint(`tick-${this.#market.tick}`);
  }

  /**
   * What farmbrain knows before a decision: a recall (own, team and fleet
   * memories; recorded, and cited by the decision through the correlation id
   * and recallIds) and the outcomes of similar past decisions.
   */
  async #consult(symbol: string, f: Features, action: SignalAction, correlationId: string): Promise<{ recall: RecallResponse | null; similar: SimilarDecisionsResponse | null }> {
    if (!this.gateway) return { recall: null, similar: null };
    const intent = action === 'buy' ? 'long entry' : action === 'sell' ? 'short entry' : 'entry';
    const query = `${symbol} ${f.regime} ${this.strategy} ${intent} lessons risk`;
    const [recall, similar] = await Promise.all([
      this.read('recall', () => this.sdk.recall({ query, k: 5, correlationId })),
      this.read('recallSimilarDecisions', () => this.sdk.recallSimilarDecisions({ situation: f.situation, symbol, k: 10, includeTeam: true })),
    ]);
    if (recall) this.stats.recalls += 1;
    if (similar) this.stats.similar += 1;
    return { recall, similar };
  }

  async #consider(symbol: string, f: Features): Promise<void> {
    const sig = signal(this.strategy, f, this.params);
    // Flat without a signal: a 'hold' is recorded (and memory consulted) every few ticks only.
    if (!decidesNow(sig, this.ticks, this.symbols.indexOf(symbol))) return;
    const working = workingMemories(this.memories, symbol);
    const spec = this.#market.spec(symbol);
    const { action, confidence, why, qty } = entryDecision(sig, working, symbol, this.params, f.price, spec);
    const correlationId = `${this.id}.${this.#runTag}.t${this.#market.tick}.${symbol}`;
    const { recall, similar } = await this.#consult(symbol, f, action, correlationId);
    const hits = recall?.hits ?? [];
    const memoryIds = recall ? hits.slice(0, 3).map((h) => h.memory.memoryId) : working.map((m) => m.memoryId);
    const st = similar?.stats;
    const notes: string[] = [];
    if (st) notes.push(st.n > 0 ? `similar ${symbol} setups: ${st.wins}/${st.n} won, mean ${usd(st.meanPnl ?? 0)}` : `no similar ${symbol} setup closed yet`);
    const top = hits[0];
    if (top) notes.push(`recalled ${hits.length}, top ${top.memory.kind}: "${cut(top.memory.text, 80)}"`);
    const d = await this.call('recordDecision', () => this.sdk.recordDecision({
      symbol,
      action,
      size: qty,
      confidence: round(confidence, 3),
      rationale: `${this.strategy}: ${why}${notes.length ? ` [memory: ${notes.join('; ')}]` : ''}`,
      situation: f.situation,
      memoryIds,
      recallIds: recall ? [recall.recallId] : [],
    }, { correlationId }));
    this.stats.decisions += d ? 1 : 0;
    if (!d || action === 'hold' || qty <= 0) return;
    const order = this.#order(symbol, action, qty);
    const t = await this.call('recordTrade', () => this.sdk.recordTrade({ ...order, decisionId: d.eventId }, { correlationId }));
    if (!t) return; // not recorded: the agent does not consider itself in the position
    this.stats.trades += 1;
    this.pnl.trades += 1;
    this.pnl.fees += order.fees;
    this.positions.set(symbol, {
      side: sideOf(action),
      qty,
      entryPrice: order.price,
      entryFees: order.fees,
      entryTick: this.ticks,
      entryVol: f.vol20 || spec.vol,
      situation: f.situation,
      regime: f.regime,
      why,
      ids: [d.eventId, t.eventId],
      decisionIds: [d.eventId],
    });
    const memo = [st ? (st.n > 0 ? `similar setups ${st.wins}/${st.n} won` : 'no similar setups yet') : '', recall ? `${hits.length} recalled` : ''].filter(Boolean).join(', ');
    this.log(`${this.id} opens ${action === 'buy' ? 'LONG ' : 'SHORT'} ${qty} ${symbol} @ ${order.price} (conf ${confidence.toFixed(2)}${memo ? `; ${memo}` : ''}): ${why}`);
  }

  /** A market order at the current price, with a new order id. */
  #order(symbol: string, side: Side, qty: number): { orderId: string; symbol: string; side: Side; qty: number; price: number; fees: number } {
    const { price, fees } = fill(this.#market.spec(symbol), this.#market.price(symbol), side, qty);
    this.#orderSeq += 1;
    // The run tag keeps order ids unique across runs in one namespace.
    return { orderId: `${this.id}-${this.#runTag}-o${this.#orderSeq}`, symbol, side, qty, price, fees };
  }

  async #manage(symbol: string, pos: Position, f: Features): Promise<void> {
    const { reason, move } = exitCheck(pos, f, this.params, this.strategy, this.ticks);
    if (!reason) {
      const d = await this.call('recordDecision', () => this.sdk.recordDecision({
        symbol,
        action: 'hold',
        size: pos.qty,
        confidence: holdConfidence(move, pos, this.params),
        rationale: `${this.strategy}: holding ${pos.side} ${pos.qty} ${symbol}, ${pct(move)} since entry, ${this.ticks - pos.entryTick}/${this.params.maxHoldTicks} ticks`,
        situation: f.situation,
        memoryIds: [],
      }));
      this.stats.decisions += d ? 1 : 0;
      return;
    }
    await this.close(symbol, pos, f, reason);
  }

  /** Closes a position: a 'close' decision, the offsetting trade, then PositionClosed with the P&L. */
  async close(symbol: string, pos: Position, f: Features, reason: CloseReason): Promise<void> {
    const move = moveOf(pos, f.price);
    const d = await this.call('recordDecision', () => this.sdk.recordDecision({
      symbol,
      action: 'close',
      size: pos.qty,
      confidence: reason === 'shutdown' ? 1 : 0.9,
      rationale: `${this.strategy}: ${reason} on ${pos.side} ${symbol} at ${pct(move)} after ${this.ticks - pos.entryTick} ticks`,
      // No situation: the position's outcome belongs to its entry, and a close with
      // a situation would count the same position twice in recallSimilarDecisions.
      memoryIds: [],
    }));
    this.stats.decisions += d ? 1 : 0;
    const order = this.#order(symbol, closingSide(pos.side), pos.qty);
    const t = await this.call('recordTrade', () => this.sdk.recordTrade({ ...order, decisionId: d?.eventId ?? '' }));
    if (!t) return; // still open; the rule is checked again next tick
    this.stats.trades += 1;
    this.pnl.trades += 1;
    this.pnl.fees += order.fees;
    this.positions.delete(symbol);
    const pnl = realizedPnl(pos, order);
    const decisionIds = d ? [...pos.decisionIds, d.eventId] : pos.decisionIds;
    const c = await this.call('closePosition', () => this.sdk.closePosition({ symbol, realizedPnl: pnl, exitPrice: order.price, decisionIds }));
    this.stats.closes += c ? 1 : 0;
    this.pnl.realized = round(this.pnl.realized + pnl, 2);
    if (pnl >= 0) this.pnl.wins += 1;
    else this.pnl.losses += 1;
    const notional = pos.entryPrice * pos.qty;
    this.log(`${this.id} closes ${pos.side} ${pos.qty} ${symbol} @ ${order.price} (${reason}): P&L ${usd(pnl)} (${pct(pnl / notional)}), total ${usd(this.pnl.realized)}`);
    if (reason !== 'shutdown') {
      await this.#reflect(symbol, pos, reason, pnl, notional, [...pos.ids, ...(d ? [d.eventId] : []), t.eventId, ...(c ? [c.eventId] : [])]);
    }
  }

  /**
   * After a close: a lesson after a loss (the lead shares it with its team), a
   * reflection after half the wins; an outcome that repeats raises the older
   * memory's importance (an update).
   */
  async #reflect(symbol: string, pos: Position, reason: CloseReason, pnl: number, notional: number, sourceEventIds: string[]): Promise<void> {
    const win = pnl >= 0;
    const remember = !win || this.#r.chance(0.5);
    const { kind, text, tags, importance } = closeMemory({ symbol, pos, reason, pnl, notional, held: this.ticks - pos.entryTick, strategy: this.strategy });
    let m: { memoryId: string } | null = null;
    if (remember) {
      // The team lead shares its losing lessons with the team.
      const { scope, scopeId } = this.lead && !win ? this.scopeFor('team', this.team) : { scope: 'agent' as const, scopeId: '' };
      m = await this.remember({ kind, text, tags, importance, scope, scopeId, sourceEventIds, situation: pos.situation });
      if (m && scope === 'team') this.log(`${this.id} shares a lesson with team ${this.team}: ${cut(text, 120)}`);
      if (m) this.memories.push({ memoryId: m.memoryId, kind, tags, importance, tick: this.ticks });
    }
    // A repeated outcome on the same symbol confirms the older memory: raise its importance.
    const older = this.memories.find((x) => x.kind === kind && x.tags.includes(symbol) && x.memoryId !== m?.memoryId);
    if (older && this.#r.chance(0.6)) {
      const raised = round(Math.min(1, older.importance + 0.1), 3);
      const u = await this.call('updateMemory', () => this.sdk.updateMemory({ memoryId: older.memoryId, importance: raised, tags: ['confirmed'] }));
      if (u) {
        older.importance = raised;
        if (!older.tags.includes('confirmed')) older.tags.push('confirmed');
        this.stats.updates += 1;
      }
    }
  }

  /** Every 10 ticks at most, an observation of one of its symbols when it is notable (or, rarely, when not). */
  async #maybeObserve(): Promise<void> {
    if (this.ticks - this.#lastObservation < 10) return;
    const symbol = this.symbols[this.ticks % this.symbols.length]!;
    const f = this.#market.features(symbol);
    if (!isNotable(f) && !this.#r.chance(0.04)) return;
    this.#lastObservation = this.ticks;
    const { kind, text, tags, importance } = observationMemory(symbol, f, this.#market.spec(symbol).perp);
    const m = await this.remember({ kind, text, tags, importance, situation: f.situation });
    if (m) this.memories.push({ memoryId: m.memoryId, kind, tags, importance, tick: this.ticks });
  }

  /** Observations go stale: past a handful, the oldest is forgotten now and then. */
  async #maybeForget(): Promise<void> {
    const obs = this.memories.filter((m) => m.kind === 'observation');
    const old = obs[0];
    if (obs.length <= 3 || !old || !this.#r.chance(0.15)) return;
    const ok = await this.call('forget', () => this.sdk.forget(old.memoryId, `stale: observation from tick ${old.tick}, superseded by newer ones`));
    if (ok) {
      this.memories.splice(this.memories.indexOf(old), 1);
      this.stats.forgets += 1;
    }
  }

  async checkpoint(label: string): Promise<void> {
    const state = {
      agentId: this.id,
      tick: this.#market.tick,
      agentTicks: this.ticks,
      strategy: this.strategy,
      params: this.params,
      symbols: this.symbols,
      pnl: this.pnl,
      positions: Object.fromEntries([...this.positions].map(([s, p]) => [s, { side: p.side, qty: p.qty, entryPrice: p.entryPrice, entryTick: p.entryTick }])),
      memories: this.memories.length,
      orderSeq: this.#orderSeq,
      session: this.#session,
      runTag: this.#runTag,
    };
    const c = await this.call('saveCheckpoint', () => this.sdk.saveCheckpoint(label, JSON.stringify(state)));
    this.stats.checkpoints += c ? 1 : 0;
  }

  /** Flattens open positions, checkpoints, marks itself stopped, flushes. */
  async stop(timeoutMs: number, flatten: boolean): Promise<void> {
    if (flatten) {
      for (const [symbol, pos] of [...this.positions]) await this.close(symbol, pos, this.#market.features(symbol), 'shutdown');
      await this.checkpoint('shutdown');
      await this.call('setStatus', () => this.sdk.setStatus('stopped', { reason: 'demo fleet stopped' }));
    }
    await this.call('close', () => this.sdk.close(timeoutMs));
  }
}
