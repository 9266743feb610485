#!/usr/bin/env node
/**
 * A demo fleet of simulated trading agents on a synthetic market, recording
 * everything through the farmbrain SDK and reading its memory back through the
 * gateway:
 *
 * - Every agent registers, decides, trades, closes positions with P&L,
 *   checkpoints, and stores memories: observations of the market (tagged with
 *   the symbol and the regime it sees), lessons and reflections after closes,
 *   updated when an outcome repeats, forgotten when stale.
 * - Before a decision taken while flat it asks farmbrain what it knows:
 *   `recall({ query, k: 5, correlationId })` and
 *   `recallSimilarDecisions({ situation, symbol })` ("how did it go the last
 *   times the market looked like this?"), then records the decision with its
 *   `situation` vector [trend, volatility, funding, rsi/100], citing the top
 *   hits (`memoryIds`) and the recall (`recallIds`). Close decisions carry no
 *   situation, so each position counts once among the similar decisions.
 * - Shared memory under a scope policy (see demoScopePolicy): each team's lead
 *   (momo-1, mrev-1, brk-1) keeps the team playbook and shares its losing
 *   lessons with the team; a risk desk (agent `risk-desk`, no trading) keeps
 *   the fleet's risk limits as a fleet fact and raises fleet-wide volatility
 *   alerts, which it updates and withdraws (forgets) as volatility changes.
 *   A memory the policy would refuse stays private (logged once).
 *
 *   import { startDemoFleet, demoScopePolicy } from './demo-fleet.mjs';
 *   // run ingest and the gateway with FB_SCOPE_POLICY=JSON.stringify(demoScopePolicy(6))
 *   const fleet = await startDemoFleet({ natsUrl, namespace, partitions, gateway: 'http://127.0.0.1:8080', agents: 6 });
 *   ...; await fleet.stop();
 *
 * Or alone: `node scripts/demo-fleet.mjs` (env NATS_URL, FB_GATEWAY_URL, FB_NAMESPACE,
 * FB_PARTITIONS, FB_DEMO_AGENTS, FB_DEMO_TICK_MS, FB_DEMO_SEED); stops on SIGINT/SIGTERM.
 *
 * Deterministic: the market, each agent's parameters, and so every decision,
 * trade, P&L and memory follow from the seed and the session (which run this
 * is in the namespace: 1, 2, ..., read from the risk desk's registration; each
 * session is a new stretch of the market, so a run recalls earlier runs'
 * memories rather than copies of what it is about to live). What the gateway answers
 * (recall hits, similar decisions, which also depend on earlier runs and on
 * timing) is cited and quoted in the rationale, but does not change what an
 * agent trades, so a run is reproducible and a gateway hiccup (a failed read
 * is logged once, then the agent decides without it) changes nothing but the
 * citations. Timestamps, event and memory ids, and the run tag in order and
 * correlation ids differ from run to run, so runs in one namespace never collide.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { EMPTY_SCOPE_POLICY, parseScopePolicy, writeDenial } from '@farmbrain/contracts';
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
const cut = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

// ---------------------------------------------------------------------------
// Synthetic market: geometric random walks with regime changes, plus a funding rate for the perpetuals

const SYMBOLS = [
  // vol: per-tick standard deviation of log returns (one tick ~ one simulated minute, sped up).
  { symbol: 'BTC-USD', price: 64000, vol: 0.0014, qtyDecimals: 4, feeRate: 0.0004, slipBps: 1, perp: true },
  { symbol: 'ETH-USD', price: 3200, vol: 0.0018, qtyDecimals: 3, feeRate: 0.0004, slipBps: 1.5, perp: true },
  { symbol: 'SOL-USD', price: 150, vol: 0.0026, qtyDecimals: 2, feeRate: 0.0005, slipBps: 2, perp: true },
  { symbol: 'AAPL', price: 190, vol: 0.0008, qtyDecimals: 0, feeRate: 0.0001, slipBps: 0.5, perp: false },
];
const REGIMES = ['trend', 'mean-revert', 'volatile'];
const HISTORY = 240;

/** The features of the `situation` vector every decision and memory records, in this order. */
export const SITUATION_FEATURES = ['trend', 'volatility', 'funding', 'rsi/100'];

class Market {
  constructor(seed) {
    this.r = rng(seed);
    // Funding draws come from their own stream, so the price paths do not depend on them.
    this.fr = rng((seed ^ 0x9e3779b9) >>> 0);
    this.tick = 0;
    this.s = new Map();
    for (const def of SYMBOLS) {
      const m = { ...def, prices: [def.price], regime: 'trend', drift: 0, regimeLeft: 0, anchor: def.price, funding: 0 };
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
      if (m.perp) {
        // Funding (bps per 8 h) leans with the recent trend: longs pay in rallies, shorts in sell-offs.
        const n = m.prices.length;
        const trend = Math.log(m.prices[n - 1] / m.prices[Math.max(0, n - 21)]) / (m.vol * Math.sqrt(20));
        m.funding = round(0.85 * m.funding + 0.15 * clamp(3 * trend, -30, 30) + 0.5 * this.fr.gauss(), 3);
      }
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
   * The situation an agent sees: named features, the regime it reads from them
   * ('volatile', 'trending' or 'range-bound'; the market's true regime stays
   * hidden), and `situation`, the vector it records (SITUATION_FEATURES, each
   * roughly within -1..1): trend strength in 20-tick sigmas / 3, log of the
   * 20-tick volatility against the symbol's normal one, funding / 10 bps, RSI(14) / 100.
   */
  features(symbol) {
    const m = this.s.get(symbol);
    const ps = m.prices;
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
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    };
    const last20 = ps.slice(-20);
    const prev20 = ps.slice(-21, -1);
    const sma = last20.reduce((a, b) => a + b, 0) / last20.length;
    const psd = sd(last20) || p * 1e-6;
    const hi = Math.max(...prev20);
    const lo = Math.min(...prev20);
    const vol20 = sd(rets(20));
    let gains = 0;
    let losses = 0;
    for (let i = Math.max(1, n - 14); i < n; i++) {
      const d = ps[i] - ps[i - 1];
      if (d > 0) gains += d;
      else losses -= d;
    }
    const f = {
      price: p,
      r1: ret(1),
      r5: ret(5),
      r20: ret(20),
      vol20,
      z20: (p - sma) / psd,
      rangePos: hi > lo ? (p - lo) / (hi - lo) : 0.5,
      volRatio: vol20 / m.vol, // against the symbol's normal volatility
      breakoutUp: p > hi ? (p - hi) / p : 0,
      breakoutDown: p < lo ? (lo - p) / p : 0,
      rsi: losses === 0 ? (gains === 0 ? 50 : 100) : 100 - 100 / (1 + gains / losses),
      funding: m.funding,
    };
    f.trend = f.r20 / (vol20 * Math.sqrt(20) || 1e-9);
    f.regime = f.volRatio > 1.6 ? 'volatile' : Math.abs(f.trend) > 1.5 ? 'trending' : 'range-bound';
    f.situation = [
      clamp(f.trend / 3, -1, 1),
      clamp(Math.log(f.volRatio || 1e-9), -1, 1),
      clamp(f.funding / 10, -1, 1),
      f.rsi / 100,
    ].map((x) => round(x, 4));
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

/** The agent that keeps the fleet's risk limits and raises fleet-wide alerts; it does not trade. */
export const RISK_DESK_ID = 'risk-desk';

/** The demo agents for a fleet of `agents`: id, team, and whether it leads its team (the first of each). */
export function demoRoster(agents) {
  return Array.from({ length: agents }, (_, index) => {
    const t = TEAMS[index % TEAMS.length];
    const n = Math.floor(index / TEAMS.length) + 1;
    return { index, id: `${t.prefix}-${n}`, name: `${t.title} ${n}`, team: t.team, strategy: t.strategy, lead: n === 1 };
  });
}

/**
 * The scope policy the demo is written for (FB_SCOPE_POLICY format): each team's
 * lead writes the team's memories, the risk desk writes the fleet's. Team
 * membership for reads comes from the registrations.
 */
export function demoScopePolicy(agents) {
  const writers = { fleet: [RISK_DESK_ID] };
  for (const a of demoRoster(agents)) if (a.lead) writers[`team:${a.team}`] = [a.id];
  return { writers };
}

const STRATEGIES = {
  momentum(f, p) {
    const t = f.trend; // trend strength in sigmas
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

/** A team's playbook, as its lead writes it (a 'procedure' memory in the team scope). */
const PLAYBOOKS = {
  momentum: (p) => `Momentum team playbook: enter in the trend's direction when the 20-tick return exceeds ${p.entry}σ and the 5-tick return confirms; ` +
    `take profit at ${p.takeProfitVol} entry-volatilities, stop out at ${p.stopLossVol}, exit after ${p.maxHoldTicks} ticks. Size down on symbols the risk desk flags as volatile.`,
  'mean-reversion': (p) => `Mean-reversion team playbook: fade moves beyond ${p.entry} sd of the 20-tick mean, never when volatility runs above ${p.maxVolRatio}x normal; ` +
    `exit when price crosses back to the mean, stop out at ${p.stopLossVol} entry-volatilities, give up after ${p.maxHoldTicks} ticks.`,
  breakout: (p) => `Breakout team playbook: trade a close beyond the 20-tick high or low only with volatility at least ${p.minVolRatio}x normal; ` +
    `take profit at ${p.takeProfitVol} entry-volatilities, stop out at ${p.stopLossVol}; range-bound markets fake out, so wait for the break.`,
};

/** Flat and without a signal, an agent records a 'hold' (and consults its memory) only every this many ticks per symbol. */
const FLAT_HOLD_EVERY = 4;
/** How long one gateway read may take before the agent decides without it. */
const READ_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------
// What every fleet member shares: an SDK client, error handling, reads, scopes

/**
 * Reads through the gateway may fail (the gateway is starting, restarting, or
 * slow). The fleet then decides without memory; this says so once, and once
 * more when reads work again.
 */
function readMonitor(log, stats) {
  let failingSince = 0;
  let failed = 0;
  return {
    ok() {
      if (failingSince === 0) return;
      log(`demo fleet: gateway reads answer again (${failed} failed meanwhile)`);
      failingSince = 0;
      failed = 0;
    },
    failed(id, what, err) {
      stats.readErrors += 1;
      failed += 1;
      if (failingSince !== 0) return;
      failingSince = Date.now();
      log(`demo fleet: ${id}: ${what} failed (${err?.code ?? err?.name ?? 'ERROR'}: ${cut(String(err?.message ?? err), 200)}); ` +
        'agents decide without recalled memory until the gateway answers again (logged once)');
    },
  };
}

class FleetMember {
  constructor({ id, nc, namespace, partitions, gateway, policy, reads, log, stats }) {
    this.id = id;
    this.gateway = gateway;
    this.policy = policy;
    this.reads = reads;
    this.log = log;
    this.stats = stats;
    this.sdk = new FarmbrainAgent({
      agentId: id,
      connection: nc,
      namespace,
      partitions,
      ...(gateway ? { gateway, gatewayTimeoutMs: READ_TIMEOUT_MS } : {}),
    });
    this.denied = new Set();
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

  /** One read through the gateway; null (and the fleet's read monitor told) when it fails or there is no gateway. */
  async read(what, fn) {
    if (!this.gateway) return null;
    try {
      const r = await fn();
      this.reads.ok();
      return r;
    } catch (err) {
      this.reads.failed(this.id, what, err);
      return null;
    }
  }

  /** The scope a memory meant for (scope, scopeId) gets: that one when the policy lets this agent write it, else private. */
  scopeFor(scope, scopeId = '') {
    if (scope === 'agent') return { scope: 'agent', scopeId: '' };
    const denial = writeDenial(this.policy, this.id, scope, scopeId);
    if (!denial) return { scope, scopeId: scope === 'team' ? scopeId : '' };
    const key = scope === 'fleet' ? 'fleet' : `team:${scopeId}`;
    if (!this.denied.has(key)) {
      this.denied.add(key);
      this.log(`${this.id}: keeps the memories it meant for ${key} private: ${denial}`);
    }
    return { scope: 'agent', scopeId: '' };
  }

  /** Stores a memory; counts it, and shared ones separately. Resolves with the receipt (with memoryId) or null. */
  async remember(m) {
    const r = await this.call('remember', () => this.sdk.remember(m));
    if (r) {
      this.stats.memories += 1;
      if (m.scope && m.scope !== 'agent') this.stats.shared += 1;
    }
    return r;
  }

  /**
   * A shared memory this agent keeps across runs (a playbook, the risk limits):
   * found with a recall by its tags, updated when there, stored when not.
   */
  async keepShared({ kind, tags, text, importance, scope, scopeId, label }) {
    const found = await this.read('recall', () => this.sdk.recall({ kinds: [kind], tags, scopes: [scope], k: 20 }));
    const mine = found?.hits.find((h) => h.memory.agentId === this.id && h.memory.scope === scope && h.memory.scopeId === scopeId);
    if (mine) {
      const u = await this.call('updateMemory', () => this.sdk.updateMemory({ memoryId: mine.memory.memoryId, text, importance }));
      if (u) {
        this.stats.updates += 1;
        this.log(`${this.id} updates ${label} (memory ${mine.memory.memoryId}, version ${mine.memory.version} -> ${mine.memory.version + 1})`);
      }
      return mine.memory.memoryId;
    }
    const m = await this.remember({ kind, text, tags, importance, scope, scopeId });
    if (m) this.log(`${this.id} stores ${label}${scope === 'agent' ? ' (privately)' : ''} (memory ${m.memoryId})`);
    return m?.memoryId;
  }
}

// ---------------------------------------------------------------------------
// One simulated trading agent

class DemoAgent extends FleetMember {
  constructor({ index, seed, session, market, runTag, ...common }) {
    const me = demoRoster(index + 1)[index];
    super({ id: me.id, ...common });
    this.name = me.name;
    this.team = me.team;
    this.strategy = me.strategy;
    this.lead = me.lead;
    this.r = rng(seed ^ hash(this.id));
    this.market = market;
    this.runTag = runTag;
    this.session = session;
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
    this.positions = new Map(); // symbol -> open position
    this.memories = []; // this run's own memories: { memoryId, kind, tags, importance, tick }
    this.pnl = { realized: 0, fees: 0, wins: 0, losses: 0, trades: 0 };
    this.orderSeq = 0;
    this.lastObservation = -1000;
    this.ticks = 0;
  }

  async start() {
    await this.call('register', () => this.sdk.register({
      name: this.name,
      team: this.team,
      strategy: this.strategy,
      config: { ...this.params, symbols: this.symbols, lookback: 20, lead: this.lead, situation: SITUATION_FEATURES, session: this.session },
    }));
    // Explicitly active again (a previous run ended with 'stopped'; a re-registration alone does not reset it in Postgres).
    await this.call('setStatus', () => this.sdk.setStatus('active', { reason: 'demo fleet started' }));
  }

  /** Memory set-up once the gateway answers: books left open by an earlier run, and the lead's team playbook. */
  async prepare() {
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
  async #closeLeftovers() {
    if (!this.gateway) return;
    const page = await this.read('list open positions', async () => {
      const res = await fetch(`${this.gateway}/v1/agents/${this.id}/positions?status=open&limit=50`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
      // An agent new to this namespace is unknown until its first event is applied: it has nothing left open.
      if (res.status === 404 && (await res.json().catch(() => ({})))?.error?.code === 'UNKNOWN_AGENT') return { items: [] };
      if (!res.ok) throw Object.assign(new Error(`GET positions answered ${res.status}`), { code: 'GATEWAY_ERROR' });
      return res.json();
    });
    for (const p of page?.items ?? []) {
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

  /** The lessons and reflections about this symbol from this run, which set the size (deterministic, unlike a recall). */
  #working(symbol) {
    return this.memories
      .filter((m) => (m.kind === 'lesson' || m.kind === 'reflection') && m.tags.includes(symbol))
      .sort((a, b) => b.importance - a.importance || b.tick - a.tick)
      .slice(0, 3);
  }

  /**
   * What farmbrain knows before a decision: a recall (own, team and fleet
   * memories; recorded, and cited by the decision through the correlation id
   * and recallIds) and the outcomes of similar past decisions.
   */
  async #consult(symbol, f, action, correlationId) {
    if (!this.gateway) return {};
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

  async #consider(symbol, f) {
    const sig = STRATEGIES[this.strategy](f, this.params);
    // Flat without a signal: a 'hold' is recorded (and memory consulted) every few ticks only.
    if (sig.action === 'hold' && (this.ticks + this.symbols.indexOf(symbol)) % FLAT_HOLD_EVERY !== 0) return;
    const working = this.#working(symbol);
    let { confidence, why } = sig;
    let sizeMult = 1;
    if (sig.action !== 'hold' && working.length > 0) {
      const losses = working.filter((m) => m.tags.includes('loss')).length;
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
    const correlationId = `${this.id}.${this.runTag}.t${this.market.tick}.${symbol}`;
    const { recall, similar } = await this.#consult(symbol, f, sig.action, correlationId);
    const hits = recall?.hits ?? [];
    const memoryIds = recall ? hits.slice(0, 3).map((h) => h.memory.memoryId) : working.map((m) => m.memoryId);
    const st = similar?.stats;
    const notes = [];
    if (st) notes.push(st.n > 0 ? `similar ${symbol} setups: ${st.wins}/${st.n} won, mean ${usd(st.meanPnl)}` : `no similar ${symbol} setup closed yet`);
    if (hits.length > 0) notes.push(`recalled ${hits.length}, top ${hits[0].memory.kind}: "${cut(hits[0].memory.text, 80)}"`);
    const d = await this.call('recordDecision', () => this.sdk.recordDecision({
      symbol,
      action: sig.action,
      size: qty,
      confidence: round(confidence, 3),
      rationale: `${this.strategy}: ${why}${notes.length ? ` [memory: ${notes.join('; ')}]` : ''}`,
      situation: f.situation,
      memoryIds,
      recallIds: recall ? [recall.recallId] : [],
    }, { correlationId }));
    this.stats.decisions += d ? 1 : 0;
    if (!d || sig.action === 'hold' || qty <= 0) return;
    const fill = this.#fill(symbol, sig.action, qty);
    const t = await this.call('recordTrade', () => this.sdk.recordTrade({ ...fill, decisionId: d.eventId }, { correlationId }));
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
      situation: f.situation,
      regime: f.regime,
      why,
      ids: [d.eventId, t.eventId],
      decisionIds: [d.eventId],
    });
    const memo = [st ? (st.n > 0 ? `similar setups ${st.wins}/${st.n} won` : 'no similar setups yet') : '', recall ? `${hits.length} recalled` : ''].filter(Boolean).join(', ');
    this.log(`${this.id} opens ${sig.action === 'buy' ? 'LONG ' : 'SHORT'} ${qty} ${symbol} @ ${fill.price} (conf ${confidence.toFixed(2)}${memo ? `; ${memo}` : ''}): ${why}`);
  }

  #fill(symbol, side, qty) {
    const spec = this.market.spec(symbol);
    const mid = this.market.price(symbol);
    const price = round(mid * (1 + ((side === 'buy' ? 1 : -1) * spec.slipBps) / 10_000), 2);
    const fees = round(qty * price * spec.feeRate, 4);
    this.orderSeq += 1;
    // The run tag keeps order ids unique across runs in one namespace.
    return { orderId: `${this.id}-${this.runTag}-o${this.orderSeq}`, symbol, side, qty, price, fees };
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
        situation: f.situation,
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
      // No situation: the position's outcome belongs to its entry, and a close with
      // a situation would count the same position twice in recallSimilarDecisions.
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

  /**
   * After a close: a lesson after a loss (the lead shares it with its team), a
   * reflection after half the wins; an outcome that repeats raises the older
   * memory's importance (an update).
   */
  async #reflect(symbol, pos, reason, pnl, notional, sourceEventIds) {
    const win = pnl >= 0;
    const remember = !win || this.r.chance(0.5);
    const ret = pnl / notional;
    const held = this.ticks - pos.entryTick;
    const kind = win ? 'reflection' : 'lesson';
    const tags = [symbol, pos.regime, win ? 'win' : 'loss', this.strategy, reason];
    let m = null;
    if (remember) {
      // Bigger P&L (relative to the position's size), more important: 1% of notional -> 0.55, 2.8% -> 1.
      const importance = round(clamp(0.3 + Math.abs(ret) * 25, 0.05, 1), 3);
      const text = win
        ? `Won $${pnl.toFixed(2)} (${pct(ret)}) on a ${this.strategy} ${pos.side} in ${symbol} in a ${pos.regime} market, held ${held} ticks, exit by ${reason}. The entry (${pos.why}) paid off; this setup is worth repeating.`
        : `Lost $${Math.abs(pnl).toFixed(2)} (${pct(ret)}) on a ${this.strategy} ${pos.side} in ${symbol} in a ${pos.regime} market, held ${held} ticks, exit by ${reason}. Entry was: ${pos.why}. ` +
          (reason === 'stop-loss' ? 'Lesson: the move reversed fast; demand a stronger signal or size down here.' : 'Lesson: the edge did not show up in time; fees ate the rest.');
      // The team lead shares its losing lessons with the team.
      const { scope, scopeId } = this.lead && !win ? this.scopeFor('team', this.team) : { scope: 'agent', scopeId: '' };
      m = await this.remember({ kind, text, tags, importance, scope, scopeId, sourceEventIds, situation: pos.situation });
      if (m && scope === 'team') this.log(`${this.id} shares a lesson with team ${this.team}: ${cut(text, 120)}`);
      if (m) this.memories.push({ memoryId: m.memoryId, kind, tags, importance, tick: this.ticks });
    }
    // A repeated outcome on the same symbol confirms the older memory: raise its importance.
    const older = this.memories.find((x) => x.kind === kind && x.tags.includes(symbol) && x.memoryId !== m?.memoryId);
    if (older && this.r.chance(0.6)) {
      const importance2 = round(Math.min(1, older.importance + 0.1), 3);
      const u = await this.call('updateMemory', () => this.sdk.updateMemory({ memoryId: older.memoryId, importance: importance2, tags: ['confirmed'] }));
      if (u) {
        older.importance = importance2;
        if (!older.tags.includes('confirmed')) older.tags.push('confirmed');
        this.stats.updates += 1;
      }
    }
  }

  async #maybeObserve() {
    if (this.ticks - this.lastObservation < 10) return;
    const symbol = this.symbols[this.ticks % this.symbols.length];
    const f = this.market.features(symbol);
    const notable = f.volRatio > 1.7 || Math.abs(f.z20) > 2.4 || f.breakoutUp > 0 || f.breakoutDown > 0;
    if (!notable && !this.r.chance(0.04)) return;
    this.lastObservation = this.ticks;
    const looks = f.regime === 'trending' ? `trending ${f.trend > 0 ? 'up' : 'down'}` : f.regime;
    const tags = [symbol, f.regime];
    const importance = round(clamp(0.2 + 0.15 * Math.max(f.volRatio - 1, Math.abs(f.z20) - 1.5, 0), 0.1, 0.7), 3);
    const m = await this.remember({
      kind: 'observation',
      text: `${symbol} looks ${looks}: 20-tick return ${pct(f.r20)} (${f.trend.toFixed(1)}σ), volatility ${pct(f.vol20, 3)}/tick (${f.volRatio.toFixed(1)}x normal), ` +
        `z-score ${f.z20.toFixed(2)}, RSI ${f.rsi.toFixed(0)}${this.market.spec(symbol).perp ? `, funding ${f.funding.toFixed(1)} bps` : ''}, price ${f.price}.`,
      tags,
      importance,
      situation: f.situation,
    });
    if (m) this.memories.push({ memoryId: m.memoryId, kind: 'observation', tags, importance, tick: this.ticks });
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
      session: this.session,
      runTag: this.runTag,
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
// The risk desk: fleet-wide facts and alerts (fleet scope), no trading

const ALERT_ON = 1.7; // volatility ratio that raises an alert
const ALERT_STEP = 0.3; // rise that updates it
const ALERT_OFF = 1.2; // below this the alert is withdrawn (forgotten)
const ALERT_TTL_MS = 15 * 60_000;

class RiskDesk extends FleetMember {
  constructor({ market, traders, session, ...common }) {
    super({ id: RISK_DESK_ID, ...common });
    this.market = market;
    this.session = session;
    this.traders = traders;
    this.alerts = new Map(); // symbol -> { memoryId, level }
    this.ticks = 0;
  }

  async start() {
    await this.call('register', () => this.sdk.register({
      name: 'Risk Desk', team: 'risk', strategy: 'risk-monitor',
      config: { watches: SYMBOLS.map((s) => s.symbol), alertOn: ALERT_ON, alertOff: ALERT_OFF, trades: false, session: this.session },
    }));
    await this.call('setStatus', () => this.sdk.setStatus('active', { reason: 'demo fleet started' }));
  }

  /** The standing risk-limits fact (kept across runs), and alerts an earlier run left behind withdrawn. */
  async prepare() {
    const { scope, scopeId } = this.scopeFor('fleet');
    const maxNotional = Math.max(...this.traders.map((a) => a.params.notionalUsd)) * 1.5;
    const maxStop = Math.max(...this.traders.map((a) => a.params.stopLossVol));
    await this.keepShared({
      kind: 'fact', tags: ['risk-limits', 'fleet'], importance: 0.9, scope, scopeId, label: 'the fleet risk limits',
      text: `Fleet risk limits (risk desk): one open position per agent and symbol; notional per position at most $${maxNotional.toLocaleString('en-US')}; ` +
        `every position carries a stop-loss of at most ${maxStop} entry-volatilities and a time exit; size down on symbols under a risk-desk volatility alert; ` +
        `all positions are flattened when the fleet stops. Watched: ${SYMBOLS.map((s) => s.symbol).join(', ')}.`,
    });
    // Alerts expire by themselves; an earlier run stopped cleanly withdraws its own, a killed one may leave some.
    const stale = await this.read('recall', () => this.sdk.recall({ tags: ['risk-alert'], scopes: [scope], k: 100 }));
    const withdrawn = [];
    for (const h of stale?.hits ?? []) {
      if (h.memory.agentId !== this.id) continue;
      const ok = await this.call('forget', () => this.sdk.forget(h.memory.memoryId, 'stale: raised by an earlier run of the risk desk'));
      if (ok) {
        this.stats.forgets += 1;
        withdrawn.push(h.memory.tags.find((t) => SYMBOLS.some((x) => x.symbol === t)) ?? h.memory.memoryId);
      }
    }
    if (withdrawn.length) this.log(`${this.id} withdraws alerts an earlier run left behind (forgotten): ${withdrawn.join(', ')}`);
  }

  async tick() {
    this.ticks += 1;
    for (const { symbol } of SYMBOLS) {
      const f = this.market.features(symbol);
      const a = this.alerts.get(symbol);
      const text = (level) => `Risk desk alert: ${symbol} volatility is ${level.toFixed(1)}x its normal level (20-tick return ${pct(f.r20)}, price ${f.price}). ` +
        'Fleet-wide: size new positions down, widen no stops, and prefer to wait out range breaks until the alert is withdrawn.';
      if (!a && f.volRatio >= ALERT_ON) {
        const { scope, scopeId } = this.scopeFor('fleet');
        const m = await this.remember({
          kind: 'observation', text: text(f.volRatio), tags: [symbol, 'volatile', 'risk-alert'], importance: 0.85, scope, scopeId,
          situation: f.situation, expiresAt: Date.now() + ALERT_TTL_MS,
        });
        if (m) {
          this.alerts.set(symbol, { memoryId: m.memoryId, level: f.volRatio });
          this.log(`${this.id} ${scope === 'fleet' ? 'raises a fleet alert' : 'notes (privately) an alert'}: ${symbol} volatility ${f.volRatio.toFixed(1)}x normal`);
        }
      } else if (a && f.volRatio >= a.level + ALERT_STEP) {
        const u = await this.call('updateMemory', () => this.sdk.updateMemory({
          memoryId: a.memoryId, text: text(f.volRatio), importance: round(Math.min(1, 0.85 + (f.volRatio - ALERT_ON) / 10), 3), expiresAt: Date.now() + ALERT_TTL_MS,
        }));
        if (u) {
          this.stats.updates += 1;
          a.level = f.volRatio;
          this.log(`${this.id} updates its ${symbol} alert: volatility now ${f.volRatio.toFixed(1)}x normal`);
        }
      } else if (a && f.volRatio < ALERT_OFF) {
        const ok = await this.call('forget', () => this.sdk.forget(a.memoryId, `${symbol} volatility back to ${f.volRatio.toFixed(1)}x normal`));
        if (ok) {
          this.stats.forgets += 1;
          this.alerts.delete(symbol);
          this.log(`${this.id} withdraws its ${symbol} alert (forgotten): volatility back to ${f.volRatio.toFixed(1)}x normal`);
        }
      }
    }
  }

  async stop(timeoutMs, clean) {
    if (clean) {
      const withdrawn = [];
      for (const [symbol, a] of [...this.alerts]) {
        const ok = await this.call('forget', () => this.sdk.forget(a.memoryId, 'withdrawn: the risk desk stopped'));
        if (ok) {
          this.stats.forgets += 1;
          this.alerts.delete(symbol);
          withdrawn.push(symbol);
        }
      }
      if (withdrawn.length) this.log(`${this.id} withdraws its alerts on ${withdrawn.join(', ')} (forgotten): the desk stops watching`);
      await this.call('setStatus', () => this.sdk.setStatus('stopped', { reason: 'demo fleet stopped' }));
    }
    await this.call('close', () => this.sdk.close(timeoutMs));
  }
}

// ---------------------------------------------------------------------------
// The fleet

/**
 * This run's session number in the namespace: one more than the session the
 * risk desk registered with last (1 in a fresh namespace, or without a gateway).
 */
async function nextSession(base) {
  if (!base) return 1;
  try {
    const res = await fetch(`${base}/v1/agents/${RISK_DESK_ID}`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    if (!res.ok) return 1;
    const last = (await res.json())?.config?.session;
    return Number.isInteger(last) && last >= 1 ? last + 1 : 1;
  } catch {
    return 1;
  }
}

/**
 * Starts `agents` simulated trading agents and the risk desk on one shared
 * NATS connection; a new tick every `tickMs`. With `gateway` (the gateway's
 * base URL) they also read their memory back (recall, similar decisions);
 * without, they only record. `scopePolicy` is the policy ingest runs with
 * (parsed, or its JSON text; default: demoScopePolicy(agents)): a shared
 * memory it would refuse is kept private instead.
 *
 * Returns { agents: trading agent ids, riskDesk, roster, stats, situation(symbol), stop() };
 * stop() flattens positions, withdraws alerts, flushes and closes.
 */
export async function startDemoFleet({
  natsUrl = 'nats://127.0.0.1:4222',
  namespace = 'fb',
  partitions = 8,
  gateway,
  scopePolicy,
  agents = 6,
  tickMs = 500,
  seed = 42,
  log = console.log,
} = {}) {
  if (!Number.isInteger(agents) || agents < 1 || agents > 200) throw new Error(`agents must be an integer from 1 to 200, got ${agents}`);
  let policy = scopePolicy ?? demoScopePolicy(agents);
  if (typeof policy === 'string') policy = parseScopePolicy(policy);
  policy = { writers: {}, teams: {}, ...(policy ?? EMPTY_SCOPE_POLICY) };
  const base = gateway ? String(gateway).replace(/\/+$/, '') : undefined;
  const nc = await connect({
    servers: natsUrl.split(','),
    name: 'farmbrain-demo-fleet',
    timeout: 3000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  // Each run in a namespace is the next session of the demo: the same agents on the market's next
  // stretch, so what they recall from earlier runs is not a copy of what they are about to live.
  const session = await nextSession(base);
  const market = new Market(session === 1 ? seed >>> 0 : (seed ^ hash(`session ${session}`)) >>> 0);
  for (let i = 0; i < 80; i++) market.step(); // history for the lookbacks
  const stats = {
    decisions: 0, trades: 0, closes: 0, memories: 0, shared: 0, updates: 0, forgets: 0, checkpoints: 0,
    recalls: 0, similar: 0, errors: 0, readErrors: 0,
  };
  const reads = readMonitor(log, stats);
  const runTag = Date.now().toString(36);
  const common = { nc, namespace, partitions, gateway: base, policy, reads, log, stats };
  const traders = Array.from({ length: agents }, (_, index) => new DemoAgent({ index, seed, session, market, runTag, ...common }));
  const risk = new RiskDesk({ market, traders, session, ...common });
  const members = [...traders, risk];
  // Registrations normally take milliseconds; if JetStream does not acknowledge
  // them (no ingress stream, NATS trouble) the fleet still starts, and says so.
  const within = (p, ms) => Promise.race([p.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), ms).unref())]);
  if (!(await within(Promise.all(members.map((a) => a.start())), 10_000))) {
    log(`demo fleet: registrations not acknowledged by JetStream within 10 s (is ingress stream ${namespace.toUpperCase()}_INGRESS provisioned?); going on`);
  }
  // Shared memories kept across runs, leftovers of a killed run. Reads time out on their own; this bounds the lot.
  if (base && !(await within(Promise.all(members.map((a) => a.prepare())), 30_000))) {
    log('demo fleet: memory set-up (playbooks, risk limits, leftover positions) still running after 30 s; going on');
  }
  const leads = traders.filter((a) => a.lead).map((a) => a.id);
  log(`demo fleet: ${agents} agents (${traders.map((a) => a.id).join(', ')}) and ${risk.id} watching ${SYMBOLS.map((s) => s.symbol).join(', ')}, ` +
    `a tick every ${tickMs} ms, seed ${seed}, session ${session}${session > 1 ? ' (earlier sessions\' memories are recalled)' : ''}`);
  log(base
    ? `demo fleet: before deciding, agents recall memories and similar past decisions from ${base}; leads ${leads.join(', ')} keep team memories, ${risk.id} fleet memories`
    : 'demo fleet: no gateway given: agents record but do not read their memory back');

  let stopping = false;
  let wake;
  let tickStarted = Date.now();
  let lastStallLog = 0;
  // A tick waits for its events to be acknowledged; say so when that takes long.
  const watchdog = setInterval(() => {
    const stalled = Date.now() - tickStarted;
    if (stopping || stalled < 5000 || Date.now() - lastStallLog < 15_000) return;
    lastStallLog = Date.now();
    const pending = members.reduce((n, a) => n + a.sdk.pending, 0);
    log(`demo fleet: tick ${market.tick} has waited ${(stalled / 1000).toFixed(0)} s for JetStream to acknowledge ${pending} events (is NATS up?)`);
  }, 1000).unref();
  const loop = (async () => {
    while (!stopping) {
      const started = (tickStarted = Date.now());
      market.step();
      await Promise.all(members.map((a) => a.tick().catch((err) => {
        stats.errors += 1;
        log(`${a.id}: tick failed: ${err?.stack ?? err}`);
      })));
      if (market.tick % 40 === 0) {
        const pnl = traders.reduce((s, a) => s + a.pnl.realized, 0);
        const open = traders.reduce((s, a) => s + a.positions.size, 0);
        log(`demo fleet: tick ${market.tick}: ${stats.decisions} decisions, ${stats.trades} trades, ${stats.closes} closes (fleet P&L ${usd(pnl)}, ${open} open), ` +
          `${stats.memories} memories (${stats.shared} shared, ${stats.updates} updated, ${stats.forgets} forgotten), ` +
          `${stats.recalls} recalls, ${stats.similar} similar-decision lookups, ${stats.checkpoints} checkpoints, ${stats.errors} errors` +
          (stats.readErrors ? `, ${stats.readErrors} failed reads` : ''));
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
    agents: traders.map((a) => a.id),
    riskDesk: risk.id,
    roster: traders.map((a) => ({ id: a.id, team: a.team, lead: a.lead, symbols: [...a.symbols] })),
    stats,
    /** The current situation vector of a symbol (SITUATION_FEATURES). */
    situation: (symbol) => market.features(symbol).situation,
    stop(timeoutMs = 8000) {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(watchdog);
        wake?.();
        // A tick blocked on an unreachable NATS does not hold the stop up: close() times it out.
        const finished = await Promise.race([loop.then(() => true), new Promise((r) => setTimeout(() => r(false), Math.min(3000, timeoutMs)).unref())]);
        await Promise.all(members.map((a) => a.stop(timeoutMs, finished)));
        await nc.drain().catch(() => nc.close());
        log(`demo fleet stopped: ${stats.decisions} decisions, ${stats.trades} trades, ${stats.closes} closes, ${stats.memories} memories (${stats.shared} shared), ` +
          `${stats.recalls} recalls, ${stats.similar} similar-decision lookups, ${stats.checkpoints} checkpoints, ${stats.errors} errors`);
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
  const agents = int('FB_DEMO_AGENTS', 6);
  const gateway = env.FB_GATEWAY_URL || `http://${env.FB_GATEWAY_HOST && !['0.0.0.0', '::'].includes(env.FB_GATEWAY_HOST) ? env.FB_GATEWAY_HOST : '127.0.0.1'}:${env.FB_GATEWAY_PORT || 8080}`;
  // The policy the services run with: the same environment's, else the one the demo is written for.
  let scopePolicy;
  try {
    if (env.FB_SCOPE_POLICY_FILE) scopePolicy = parseScopePolicy(readFileSync(env.FB_SCOPE_POLICY_FILE, 'utf8'), `FB_SCOPE_POLICY_FILE=${env.FB_SCOPE_POLICY_FILE}`);
    else if (env.FB_SCOPE_POLICY !== undefined) scopePolicy = parseScopePolicy(env.FB_SCOPE_POLICY);
  } catch (err) {
    console.error(`demo-fleet: ${err?.message ?? err}`);
    process.exit(1);
  }
  if (!scopePolicy) {
    console.log(`demo-fleet: for shared memories, run ingest and the gateway with FB_SCOPE_POLICY='${JSON.stringify(demoScopePolicy(agents))}'`);
  }
  let fleet;
  try {
    fleet = await startDemoFleet({
      natsUrl,
      namespace: env.FB_NAMESPACE || 'fb',
      partitions: int('FB_PARTITIONS', 8),
      gateway,
      scopePolicy,
      agents,
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
