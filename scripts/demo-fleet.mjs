#!/usr/bin/env node
/**
 * A demo fleet of simulated trading agents on a synthetic market, recording
 * everything through the farmbrain SDK: registrations, decisions, trades,
 * closed positions with P&L, checkpoints and memories (stored, updated, forgotten).
 *
 *   import { startDemoFleet } from './demo-fleet.mjs';
 *   const fleet = await startDemoFleet({ natsUrl, namespace, partitions, agents: 6, tickMs: 500 });
 *   ...; await fleet.stop();
 *
 * Or alone: `node scripts/demo-fleet.mjs` (env NATS_URL, FB_NAMESPACE, FB_PARTITIONS,
 * FB_DEMO_AGENTS, FB_DEMO_TICK_MS, FB_DEMO_SEED); stops on SIGINT/SIGTERM.
 *
 * Everything but timestamps and event ids follows from the seed: the market,
 * each agent's parameters, and so every decision, trade and memory.
 */
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { FarmbrainAgent } from '../packages/sdk/dist/index.js';

// ---------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: small, fast, good enough for a simulation. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare;
  return {
    next,
    range: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor((hi - lo + 1) * next()),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** Standard normal (Box-Muller). */
    gauss() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

/** FNV-1a, to derive per-agent seeds from names. */
const hash = (s) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
};

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const pct = (x, d = 2) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(d)}%`;
const usd = (x) => `${x < 0 ? '-' : '+'}$${Math.abs(x).toFixed(2)}`;

// ---------------------------------------------------------------------------
// Synthetic market: geometric random walks with regime changes

const SYMBOLS = [
  // vol: per-tick standard deviation of log returns (one tick ~ one simulated minute, sped up).
  { symbol: 'BTC-USD', price: 64000, vol: 0.0014, qtyDecimals: 4, feeRate: 0.0004, slipBps: 1 },
  { symbol: 'ETH-USD', price: 3200, vol: 0.0018, qtyDecimals: 3, feeRate: 0.0004, slipBps: 1.5 },
  { symbol: 'SOL-USD', price: 150, vol: 0.0026, qtyDecimals: 2, feeRate: 0.0005, slipBps: 2 },
  { symbol: 'AAPL', price: 190, vol: 0.0008, qtyDecimals: 0, feeRate: 0.0001, slipBps: 0.5 },
];
const REGIMES = ['trend', 'mean-revert', 'volatile'];
const HISTORY = 240;

class Market {
  constructor(seed) {
    this.r = rng(seed);
    this.tick = 0;
    this.s = new Map();
    for (const def of SYMBOLS) {
      const m = { ...def, prices: [def.price], regime: 'trend', drift: 0, regimeLeft: 0, anchor: def.price };
      this.#newRegime(m);
      this.s.set(def.symbol, m);
    }
  }

  #newRegime(m) {
    m.regime = this.r.pick(REGIMES);
    m.regimeLeft = this.r.int(30, 120);
    m.anchor = m.prices[m.prices.length - 1];
    // Trends drift by a fraction of a tick's volatility, up or down.
    m.drift = m.regime === 'trend' ? (this.r.chance(0.5) ? 1 : -1) * this.r.range(0.15, 0.45) * m.vol : 0;
  }

  step() {
    this.tick += 1;
    for (const m of this.s.values()) {
      if (--m.regimeLeft <= 0) this.#newRegime(m);
      const p = m.prices[m.prices.length - 1];
      let mu = m.drift;
      let sigma = m.vol;
      if (m.regime === 'mean-revert') {
        mu = -0.12 * Math.log(p / m.anchor);
        sigma = m.vol * 0.9;
      } else if (m.regime === 'volatile') {
        sigma = m.vol * 2;
      }
      const next = p * Math.exp(mu - 0.5 * sigma * sigma + sigma * this.r.gauss());
      m.prices.push(round(next, 2));
      if (m.prices.length > HISTORY) m.prices.shift();
    }
  }

  price(symbol) {
    const ps = this.s.get(symbol).prices;
    return ps[ps.length - 1];
  }

  spec(symbol) {
    return this.s.get(symbol);
  }

  /**
   * The situation an agent sees, as named features and the numeric vector it records:
   * [r1, r5, r20, vol20, z20, rangePos20, volRatio, breakoutUp, breakoutDown].
   */
  features(symbol) {
    const ps = this.s.get(symbol).prices;
    const n = ps.length;
    const p = ps[n - 1];
    const ret = (k) => Math.log(p / ps[Math.max(0, n - 1 - k)]);
    const rets = (k) => {
      const out = [];
      for (let i = Math.max(1, n - k); i < n; i++) out.push(Math.log(ps[i] / ps[i - 1]));
      return out;
    };
    const sd = (xs) => {
      if (xs.length < 2) return 0;
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
    };
    const last20 = ps.slice(-20);
    const prev20 = ps.slice(-21, -1);
    const sma = last20.reduce((a, b) => a + b, 0) / last20.length;
    const psd = sd(last20) || p * 1e-6;
    const hi = Math.max(...prev20);
    const lo = Math.min(...prev20);
    const vol20 = sd(rets(20));
    const vol60 = sd(rets(60)) || vol20 || 1e-9;
    const f = {
      price: p,
      r1: ret(1),
      r5: ret(5),
      r20: ret(20),
      vol20,
      z20: (p - sma) / psd,
      rangePos: hi > lo ? (p - lo) / (hi - lo) : 0.5,
      volRatio: vol20 / vol60,
      breakoutUp: p > hi ? (p - hi) / p : 0,
      breakoutDown: p < lo ? (lo - p) / p : 0,
    };
    f.vector = [f.r1, f.r5, f.r20, f.vol20, f.z20, f.rangePos, f.volRatio, f.breakoutUp, f.breakoutDown].map((x) => round(x, 6));
    return f;
  }
}

// ---------------------------------------------------------------------------
// Strategies: each turns features into { action: buy|sell|hold, confidence, why }

const TEAMS = [
  { team: 'momentum', strategy: 'momentum', prefix: 'momo', title: 'Momo' },
  { team: 'mean-reversion', strategy: 'mean-reversion', prefix: 'mrev', title: 'Reverter' },
  { team: 'breakout', strategy: 'breakout', prefix: 'brk', title: 'Breaker' },
];

const STRATEGIES = {
  momentum(f, p) {
    const t = f.r20 / (f.vol20 * Math.sqrt(20) || 1e-9); // trend strength in sigmas
    const conf = clamp(0.45 + 0.18 * (Math.abs(t) - p.entry), 0.05, 0.95);
    if (t > p.entry && f.r5 > 0) return { action: 'buy', confidence: conf, why: `20-tick return ${pct(f.r20)} (${t.toFixed(1)}σ) with 5-tick ${pct(f.r5)} confirming: ride the uptrend` };
    if (t < -p.entry && f.r5 < 0) return { action: 'sell', confidence: conf, why: `20-tick return ${pct(f.r20)} (${t.toFixed(1)}σ) with 5-tick ${pct(f.r5)} confirming: ride the downtrend` };
    return { action: 'hold', confidence: clamp(1 - Math.abs(t) / (p.entry * 2), 0.2, 0.9), why: `trend ${t.toFixed(1)}σ is below the ${p.entry.toFixed(1)}σ entry bar: no momentum` };
  },
  'mean-reversion'(f, p) {
    const conf = clamp(0.45 + 0.2 * (Math.abs(f.z20) - p.entry), 0.05, 0.95);
    if (f.volRatio > p.maxVolRatio) return { action: 'hold', confidence: 0.6, why: `volatility ${f.volRatio.toFixed(1)}x normal: fading moves is unsafe now` };
    if (f.z20 < -p.entry) return { action: 'buy', confidence: conf, why: `price ${f.z20.toFixed(2)} sd below its 20-tick mean: expect a bounce` };
    if (f.z20 > p.entry) return { action: 'sell', confidence: conf, why: `price ${f.z20.toFixed(2)} sd above its 20-tick mean: expect a pullback` };
    return { action: 'hold', confidence: clamp(1 - Math.abs(f.z20) / (p.entry * 2), 0.2, 0.9), why: `z-score ${f.z20.toFixed(2)} within ±${p.entry.toFixed(1)}: price near fair value` };
  },
  breakout(f, p) {
    const conf = clamp(0.5 + 0.15 * (f.volRatio - 1) + 40 * (f.breakoutUp + f.breakoutDown), 0.05, 0.95);
    if (f.breakoutUp > 0 && f.volRatio >= p.minVolRatio) return { action: 'buy', confidence: conf, why: `broke above the 20-tick high by ${pct(f.breakoutUp, 3)} on ${f.volRatio.toFixed(1)}x volatility` };
    if (f.breakoutDown > 0 && f.volRatio >= p.minVolRatio) return { action: 'sell', confidence: conf, why: `broke below the 20-tick low by ${pct(f.breakoutDown, 3)} on ${f.volRatio.toFixed(1)}x volatility` };
    return { action: 'hold', confidence: 0.5, why: `inside the 20-tick range (at ${(f.rangePos * 100).toFixed(0)}%): waiting for a breakout` };
  },
};

// ---------------------------------------------------------------------------
// One simulated agent

class DemoAgent {
  constructor({ index, seed, market, nc, namespace, partitions, log, stats }) {
    const t = TEAMS[index % TEAMS.length];
    const n = Math.floor(index / TEAMS.length) + 1;
    this.id = `${t.prefix}-${n}`;
    this.name = `${t.title} ${n}`;
    this.team = t.team;
    this.strategy = t.strategy;
    this.r = rng(seed ^ hash(this.id));
    this.market = market;
    this.log = log;
    this.stats = stats;
    this.symbols = [SYMBOLS[index % SYMBOLS.length].symbol, SYMBOLS[(index + 1 + Math.floor(index / SYMBOLS.length)) % SYMBOLS.length].symbol];
    const entry = { momentum: [1.2, 1.8], 'mean-reversion': [1.5, 2.1], breakout: [0, 0] }[this.strategy];
    this.params = {
      entry: round(this.r.range(entry[0], entry[1]), 2),
      maxVolRatio: round(this.r.range(1.6, 2.2), 2),
      minVolRatio: round(this.r.range(0.8, 1.1), 2),
      takeProfitVol: round(this.r.range(2.5, 4.5), 2), // take profit at this many entry-vols
      stopLossVol: round(this.r.range(2.0, 3.5), 2),
      maxHoldTicks: this.r.int(8, 20),
      notionalUsd: this.r.pick([5000, 10000, 20000]),
    };
    this.sdk = new FarmbrainAgent({ agentId: this.id, connection: nc, namespace, partitions });
    this.positions = new Map(); // symbol -> open position
    this.memories = []; // { memoryId, kind, tags, importance, tick }
    this.pnl = { realized: 0, fees: 0, wins: 0, losses: 0, trades: 0 };
    this.orderSeq = 0;
    this.lastObservation = -1000;
    this.ticks = 0;
  }

  /** Runs one SDK call; a rejection is logged with its code and the agent carries on. */
  async call(what, fn) {
    try {
      return await fn();
    } catch (err) {
      this.stats.errors += 1;
      this.log(`${this.id}: ${what} rejected: ${err?.code ?? err?.name ?? 'ERROR'}: ${err?.message ?? err}`);
      return null;
    }
  }

  async start() {
    await this.call('register', () => this.sdk.register({
      name: this.name,
      team: this.team,
      strategy: this.strategy,
      config: { ...this.params, symbols: this.symbols, lookback: 20 },
    }));
    // Explicitly active again (a previous run ended with 'stopped'; a re-registration alone does not reset it in Postgres).
    await this.call('setStatus', () => this.sdk.setStatus('active', { reason: 'demo fleet started' }));
  }

  async tick() {
    this.ticks += 1;
    for (const symbol of this.symbols) {
      const f = this.market.features(symbol);
      const pos = this.positions.get(symbol);
      if (pos) await this.#manage(symbol, pos, f);
      else await this.#consider(symbol, f);
    }
    await this.#maybeObserve();
    await this.#maybeForget();
    // Checkpoints every 20 ticks, staggered across agents.
    if ((this.ticks + hash(this.id)) % 20 === 0) await this.checkpoint(`tick-${this.market.tick}`);
  }

  /** Lessons and reflections about this symbol the agent recalls before acting. */
  #recall(symbol) {
    return this.memories
      .filter((m) => (m.kind === 'lesson' || m.kind === 'reflection') && m.tags.includes(symbol))
      .sort((a, b) => b.importance - a.importance || b.tick - a.tick)
      .slice(0, 3);
  }

  async #consider(symbol, f) {
    const sig = STRATEGIES[this.strategy](f, this.params);
    const recalled = this.#recall(symbol);
    let { confidence, why } = sig;
    let sizeMult = 1;
    if (sig.action !== 'hold' && recalled.length > 0) {
      const losses = recalled.filter((m) => m.tags.includes('loss')).length;
      if (losses >= 2) {
        confidence *= 0.8;
        sizeMult = 0.5;
        why += `; ${losses} recent losing lessons on ${symbol}: half size`;
      } else if (losses === 0) {
        confidence = Math.min(0.95, confidence * 1.1);
        why += `; recent ${symbol} trades worked`;
      }
    }
    const spec = this.market.spec(symbol);
    let qty = 0;
    if (sig.action !== 'hold') {
      qty = round((this.params.notionalUsd * sizeMult * (0.5 + confidence)) / f.price, spec.qtyDecimals);
      if (spec.qtyDecimals === 0) qty = Math.max(1, qty);
    }
    const d = await this.call('recordDecision', () => this.sdk.recordDecision({
      symbol,
      action: sig.action,
      size: qty,
      confidence: round(confidence, 3),
      rationale: `${this.strategy}: ${why}`,
      situation: f.vector,
      memoryIds: recalled.map((m) => m.memoryId),
    }));
    this.stats.decisions += d ? 1 : 0;
    if (!d || sig.action === 'hold' || qty <= 0) return;
    const fill = this.#fill(symbol, sig.action, qty);
    const t = await this.call('recordTrade', () => this.sdk.recordTrade({ ...fill, decisionId: d.eventId }));
    if (!t) return; // not recorded: the agent does not consider itself in the position
    this.stats.trades += 1;
    this.pnl.trades += 1;
    this.pnl.fees += fill.fees;
    this.positions.set(symbol, {
      side: sig.action === 'buy' ? 'long' : 'short',
      qty,
      entryPrice: fill.price,
      entryFees: fill.fees,
      entryTick: this.ticks,
      entryVol: f.vol20 || spec.vol,
      situation: f.vector,
      why,
      ids: [d.eventId, t.eventId],
      decisionIds: [d.eventId],
    });
    this.log(`${this.id} opens ${sig.action === 'buy' ? 'LONG ' : 'SHORT'} ${qty} ${symbol} @ ${fill.price} (conf ${confidence.toFixed(2)}): ${why}`);
  }

  #fill(symbol, side, qty) {
    const spec = this.market.spec(symbol);
    const mid = this.market.price(symbol);
    const price = round(mid * (1 + ((side === 'buy' ? 1 : -1) * spec.slipBps) / 10_000), 2);
    const fees = round(qty * price * spec.feeRate, 4);
    this.orderSeq += 1;
    return { orderId: `${this.id}-o${this.orderSeq}`, symbol, side, qty, price, fees };
  }

  /** The exit rule: take profit, stop loss, strategy exit, or time. Returns the reason or null. */
  #exitReason(pos, f) {
    const move = (f.price / pos.entryPrice - 1) * (pos.side === 'long' ? 1 : -1);
    if (move >= this.params.takeProfitVol * pos.entryVol) return ['take-profit', move];
    if (move <= -this.params.stopLossVol * pos.entryVol) return ['stop-loss', move];
    if (this.strategy === 'mean-reversion' && (pos.side === 'long' ? f.z20 >= 0 : f.z20 <= 0)) return ['reverted-to-mean', move];
    if (this.ticks - pos.entryTick >= this.params.maxHoldTicks) return ['time-exit', move];
    return [null, move];
  }

  async #manage(symbol, pos, f) {
    const [reason, move] = this.#exitReason(pos, f);
    if (!reason) {
      const d = await this.call('recordDecision', () => this.sdk.recordDecision({
        symbol,
        action: 'hold',
        size: pos.qty,
        confidence: round(clamp(0.5 + move / (this.params.takeProfitVol * pos.entryVol) / 2, 0.1, 0.9), 3),
        rationale: `${this.strategy}: holding ${pos.side} ${pos.qty} ${symbol}, ${pct(move)} since entry, ${this.ticks - pos.entryTick}/${this.params.maxHoldTicks} ticks`,
        situation: f.vector,
        memoryIds: [],
      }));
      this.stats.decisions += d ? 1 : 0;
      return;
    }
    await this.close(symbol, pos, f, reason);
  }

  /** Closes a position: a 'close' decision, the offsetting trade, then PositionClosed with the P&L. */
  async close(symbol, pos, f, reason) {
    const move = (f.price / pos.entryPrice - 1) * (pos.side === 'long' ? 1 : -1);
    const d = await this.call('recordDecision', () => this.sdk.recordDecision({
      symbol,
      action: 'close',
      size: pos.qty,
      confidence: reason === 'shutdown' ? 1 : 0.9,
      rationale: `${this.strategy}: ${reason} on ${pos.side} ${symbol} at ${pct(move)} after ${this.ticks - pos.entryTick} ticks`,
      situation: f.vector,
      memoryIds: [],
    }));
    this.stats.decisions += d ? 1 : 0;
    const fill = this.#fill(symbol, pos.side === 'long' ? 'sell' : 'buy', pos.qty);
    const t = await this.call('recordTrade', () => this.sdk.recordTrade({ ...fill, decisionId: d?.eventId ?? '' }));
    if (!t) return; // still open; the rule is checked again next tick
    this.stats.trades += 1;
    this.pnl.trades += 1;
    this.pnl.fees += fill.fees;
    this.positions.delete(symbol);
    // Realized P&L: price difference in the position's direction times quantity, net of both fees.
    const gross = (fill.price - pos.entryPrice) * pos.qty * (pos.side === 'long' ? 1 : -1);
    const realizedPnl = round(gross - pos.entryFees - fill.fees, 2);
    const decisionIds = d ? [...pos.decisionIds, d.eventId] : pos.decisionIds;
    const c = await this.call('closePosition', () => this.sdk.closePosition({ symbol, realizedPnl, exitPrice: fill.price, decisionIds }));
    this.stats.closes += c ? 1 : 0;
    this.pnl.realized = round(this.pnl.realized + realizedPnl, 2);
    if (realizedPnl >= 0) this.pnl.wins += 1;
    else this.pnl.losses += 1;
    const notional = pos.entryPrice * pos.qty;
    this.log(`${this.id} closes ${pos.side} ${pos.qty} ${symbol} @ ${fill.price} (${reason}): P&L ${usd(realizedPnl)} (${pct(realizedPnl / notional)}), total ${usd(this.pnl.realized)}`);
    if (reason !== 'shutdown') {
      await this.#reflect(symbol, pos, reason, realizedPnl, notional, [...pos.ids, ...(d ? [d.eventId] : []), t.eventId, ...(c ? [c.eventId] : [])]);
    }
  }

  async #reflect(symbol, pos, reason, pnl, notional, sourceEventIds) {
    const win = pnl >= 0;
    const ret = pnl / notional;
    const held = this.ticks - pos.entryTick;
    // Bigger P&L (relative to the position's size), more important: 1% of notional -> 0.55, 2.8% -> 1.
    const importance = round(clamp(0.3 + Math.abs(ret) * 25, 0.05, 1), 3);
    const text = win
      ? `Won $${pnl.toFixed(2)} (${pct(ret)}) on a ${this.strategy} ${pos.side} in ${symbol} held ${held} ticks, exit by ${reason}. The entry (${pos.why}) paid off; this setup is worth repeating.`
      : `Lost $${Math.abs(pnl).toFixed(2)} (${pct(ret)}) on a ${this.strategy} ${pos.side} in ${symbol} held ${held} ticks, exit by ${reason}. Entry was: ${pos.why}. ` +
        (reason === 'stop-loss' ? 'Lesson: the move reversed fast; demand a stronger signal or size down here.' : 'Lesson: the edge did not show up in time; fees ate the rest.');
    // Big losses are shared with the team.
    const teamScope = !win && Math.abs(ret) > 0.01;
    const m = await this.call('remember', () => this.sdk.remember({
      kind: win ? 'reflection' : 'lesson',
      text,
      tags: [symbol, win ? 'win' : 'loss', this.strategy, reason],
      importance,
      scope: teamScope ? 'team' : 'agent',
      scopeId: teamScope ? this.team : '',
      sourceEventIds,
      situation: pos.situation,
    }));
    this.stats.memories += m ? 1 : 0;
    // A repeated outcome on the same symbol confirms the older memory: raise its importance.
    const older = this.memories.find((x) => x.kind === (win ? 'reflection' : 'lesson') && x.tags.includes(symbol));
    if (older && this.r.chance(0.6)) {
      const importance2 = round(Math.min(1, older.importance + 0.1), 3);
      const u = await this.call('updateMemory', () => this.sdk.updateMemory({ memoryId: older.memoryId, importance: importance2, tags: ['confirmed'] }));
      if (u) {
        older.importance = importance2;
        if (!older.tags.includes('confirmed')) older.tags.push('confirmed');
        this.stats.updates += 1;
      }
    }
    if (m) this.memories.push({ memoryId: m.memoryId, kind: win ? 'reflection' : 'lesson', tags: [symbol, win ? 'win' : 'loss', this.strategy, reason], importance, tick: this.ticks });
  }

  async #maybeObserve() {
    if (this.ticks - this.lastObservation < 10) return;
    const symbol = this.symbols[this.ticks % this.symbols.length];
    const f = this.market.features(symbol);
    const notable = f.volRatio > 1.7 || Math.abs(f.z20) > 2.4 || f.breakoutUp > 0 || f.breakoutDown > 0;
    if (!notable && !this.r.chance(0.04)) return;
    this.lastObservation = this.ticks;
    const looks = f.volRatio > 1.7 ? 'volatile' : Math.abs(f.r20) > 2.5 * f.vol20 * Math.sqrt(20) / 2 ? (f.r20 > 0 ? 'trending up' : 'trending down') : 'range-bound';
    const tags = [symbol, f.volRatio > 1.7 ? 'volatility' : 'regime'];
    const m = await this.call('remember', () => this.sdk.remember({
      kind: 'observation',
      text: `${symbol} looks ${looks}: 20-tick return ${pct(f.r20)}, volatility ${pct(f.vol20, 3)}/tick (${f.volRatio.toFixed(1)}x its 60-tick level), z-score ${f.z20.toFixed(2)}, price ${f.price}.`,
      tags,
      importance: round(clamp(0.2 + 0.15 * Math.max(f.volRatio - 1, Math.abs(f.z20) - 1.5, 0), 0.1, 0.7), 3),
      situation: f.vector,
    }));
    if (m) {
      this.stats.memories += 1;
      this.memories.push({ memoryId: m.memoryId, kind: 'observation', tags, importance: 0.3, tick: this.ticks });
    }
  }

  /** Observations go stale: past a handful, the oldest is forgotten now and then. */
  async #maybeForget() {
    const obs = this.memories.filter((m) => m.kind === 'observation');
    if (obs.length <= 3 || !this.r.chance(0.15)) return;
    const old = obs[0];
    const ok = await this.call('forget', () => this.sdk.forget(old.memoryId, `stale: observation from tick ${old.tick}, superseded by newer ones`));
    if (ok) {
      this.memories.splice(this.memories.indexOf(old), 1);
      this.stats.forgets += 1;
    }
  }

  async checkpoint(label) {
    const state = {
      agentId: this.id,
      tick: this.market.tick,
      agentTicks: this.ticks,
      strategy: this.strategy,
      params: this.params,
      symbols: this.symbols,
      pnl: this.pnl,
      positions: Object.fromEntries([...this.positions].map(([s, p]) => [s, { side: p.side, qty: p.qty, entryPrice: p.entryPrice, entryTick: p.entryTick }])),
      memories: this.memories.length,
      orderSeq: this.orderSeq,
    };
    const c = await this.call('saveCheckpoint', () => this.sdk.saveCheckpoint(label, JSON.stringify(state)));
    this.stats.checkpoints += c ? 1 : 0;
  }

  /** Flattens open positions, checkpoints, marks itself stopped, flushes. */
  async stop(timeoutMs, flatten) {
    if (flatten) {
      for (const [symbol, pos] of [...this.positions]) await this.close(symbol, pos, this.market.features(symbol), 'shutdown');
      await this.checkpoint('shutdown');
      await this.call('setStatus', () => this.sdk.setStatus('stopped', { reason: 'demo fleet stopped' }));
    }
    await this.call('close', () => this.sdk.close(timeoutMs));
  }
}

// ---------------------------------------------------------------------------
// The fleet

/**
 * Starts `agents` simulated agents on one shared NATS connection; a new tick every `tickMs`.
 * Returns { agents: ids, stop() } — stop() flattens positions, flushes and closes.
 */
export async function startDemoFleet({
  natsUrl = 'nats://127.0.0.1:4222',
  namespace = 'fb',
  partitions = 8,
  agents = 6,
  tickMs = 500,
  seed = 42,
  log = console.log,
} = {}) {
  if (!Number.isInteger(agents) || agents < 1 || agents > 200) throw new Error(`agents must be an integer from 1 to 200, got ${agents}`);
  const nc = await connect({
    servers: natsUrl.split(','),
    name: 'farmbrain-demo-fleet',
    timeout: 3000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const market = new Market(seed >>> 0);
  for (let i = 0; i < 80; i++) market.step(); // history for the lookbacks
  const stats = { decisions: 0, trades: 0, closes: 0, memories: 0, updates: 0, forgets: 0, checkpoints: 0, errors: 0 };
  const fleet = Array.from({ length: agents }, (_, index) => new DemoAgent({ index, seed, market, nc, namespace, partitions, log, stats }));
  // Registrations normally take milliseconds; if JetStream does not acknowledge
  // them (no ingress stream, NATS trouble) the fleet still starts, and says so.
  const registered = await Promise.race([
    Promise.all(fleet.map((a) => a.start())).then(() => true),
    new Promise((r) => setTimeout(() => r(false), 10_000).unref()),
  ]);
  if (!registered) log(`demo fleet: registrations not acknowledged by JetStream within 10 s (is ingress stream ${namespace.toUpperCase()}_INGRESS provisioned?); going on`);
  log(`demo fleet: ${agents} agents (${fleet.map((a) => a.id).join(', ')}) trading ${SYMBOLS.map((s) => s.symbol).join(', ')}, a tick every ${tickMs} ms, seed ${seed}`);

  let stopping = false;
  let wake;
  let tickStarted = Date.now();
  let lastStallLog = 0;
  // A tick waits for its events to be acknowledged; say so when that takes long.
  const watchdog = setInterval(() => {
    const stalled = Date.now() - tickStarted;
    if (stopping || stalled < 5000 || Date.now() - lastStallLog < 15_000) return;
    lastStallLog = Date.now();
    const pending = fleet.reduce((n, a) => n + a.sdk.pending, 0);
    log(`demo fleet: tick ${market.tick} has waited ${(stalled / 1000).toFixed(0)} s for JetStream to acknowledge ${pending} events (is NATS up?)`);
  }, 1000).unref();
  const loop = (async () => {
    while (!stopping) {
      const started = (tickStarted = Date.now());
      market.step();
      await Promise.all(fleet.map((a) => a.tick().catch((err) => {
        stats.errors += 1;
        log(`${a.id}: tick failed: ${err?.stack ?? err}`);
      })));
      if (market.tick % 40 === 0) {
        const pnl = fleet.reduce((s, a) => s + a.pnl.realized, 0);
        const open = fleet.reduce((s, a) => s + a.positions.size, 0);
        log(`demo fleet: tick ${market.tick}: ${stats.decisions} decisions, ${stats.trades} trades, ${stats.closes} closes (fleet P&L ${usd(pnl)}, ${open} open), ` +
          `${stats.memories} memories (${stats.updates} updated, ${stats.forgets} forgotten), ${stats.checkpoints} checkpoints, ${stats.errors} errors`);
      }
      tickStarted = Infinity; // not stalled while sleeping
      const wait = Math.max(10, tickMs - (Date.now() - started));
      await new Promise((r) => {
        wake = r;
        setTimeout(r, wait);
      });
    }
  })();

  let stopped;
  return {
    agents: fleet.map((a) => a.id),
    stats,
    stop(timeoutMs = 8000) {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(watchdog);
        wake?.();
        // A tick blocked on an unreachable NATS does not hold the stop up: close() times it out.
        const finished = await Promise.race([loop.then(() => true), new Promise((r) => setTimeout(() => r(false), Math.min(3000, timeoutMs)).unref())]);
        await Promise.all(fleet.map((a) => a.stop(timeoutMs, finished)));
        await nc.drain().catch(() => nc.close());
        log(`demo fleet stopped: ${stats.decisions} decisions, ${stats.trades} trades, ${stats.closes} closes, ${stats.memories} memories, ${stats.checkpoints} checkpoints, ${stats.errors} errors`);
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------
// Standalone

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const env = process.env;
  const int = (name, def) => {
    const v = env[name];
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n)) {
      console.error(`demo-fleet: ${name}='${v}' must be an integer`);
      process.exit(1);
    }
    return n;
  };
  const natsUrl = env.NATS_URL || 'nats://127.0.0.1:4222';
  let fleet;
  try {
    fleet = await startDemoFleet({
      natsUrl,
      namespace: env.FB_NAMESPACE || 'fb',
      partitions: int('FB_PARTITIONS', 8),
      agents: int('FB_DEMO_AGENTS', 6),
      tickMs: int('FB_DEMO_TICK_MS', 500),
      seed: int('FB_DEMO_SEED', 42),
    });
  } catch (err) {
    console.error(`demo-fleet: cannot start: ${err?.message ?? err}`);
    if (/connect|ECONNREFUSED|timeout/i.test(String(err?.message ?? err) + (err?.code ?? ''))) {
      console.error(`NATS is not reachable at ${natsUrl}. Start it with: nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &`);
    }
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (sig) => {
    if (++signals > 1) process.exit(1);
    console.log(`demo-fleet: ${sig}: stopping (flushing)...`);
    fleet.stop().then(() => process.exit(0), (err) => {
      console.error(`demo-fleet: stop failed: ${err?.message ?? err}`);
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
