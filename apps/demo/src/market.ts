/**
 * The synthetic market: geometric random walks with regime changes (trend,
 * mean-revert, volatile), plus a funding rate for the perpetuals. Pure and
 * seeded: the same seed gives the same prices, tick after tick.
 */
import { clamp, last, round } from './format.js';
import { rng, type Rng } from './rng.js';

export interface SymbolSpec {
  symbol: string;
  /** Starting price. */
  price: number;
  /** Per-tick standard deviation of log returns (one tick ~ one simulated minute, sped up). */
  vol: number;
  qtyDecimals: number;
  feeRate: number;
  slipBps: number;
  /** A perpetual: it has a funding rate. */
  perp: boolean;
}

export const SYMBOLS: readonly SymbolSpec[] = Object.freeze([
  { symbol: 'BTC-USD', price: 64000, vol: 0.0014, qtyDecimals: 4, feeRate: 0.0004, slipBps: 1, perp: true },
  { symbol: 'ETH-USD', price: 3200, vol: 0.0018, qtyDecimals: 3, feeRate: 0.0004, slipBps: 1.5, perp: true },
  { symbol: 'SOL-USD', price: 150, vol: 0.0026, qtyDecimals: 2, feeRate: 0.0005, slipBps: 2, perp: true },
  { symbol: 'AAPL', price: 190, vol: 0.0008, qtyDecimals: 0, feeRate: 0.0001, slipBps: 0.5, perp: false },
]);

/** The market's true regimes (hidden from the agents). */
export const REGIMES = ['trend', 'mean-revert', 'volatile'] as const;
export type MarketRegime = (typeof REGIMES)[number];
/** The regime an agent reads from the features. */
export type SeenRegime = 'volatile' | 'trending' | 'range-bound';

/** Prices kept per symbol. */
export const HISTORY = 240;
/** Ticks a fleet lets the market run before its agents look at it (history for the lookbacks). */
export const WARM_UP_TICKS = 80;

/** The features of the `situation` vector every decision and memory records, in this order. */
export const SITUATION_FEATURES: readonly string[] = Object.freeze(['trend', 'volatility', 'funding', 'rsi/100']);

/** One symbol as the market keeps it. */
export interface SymbolState extends SymbolSpec {
  /** The last HISTORY prices, oldest first. */
  prices: number[];
  regime: MarketRegime;
  drift: number;
  regimeLeft: number;
  anchor: number;
  /** Bps per 8 h (0 for a non-perpetual). */
  funding: number;
}

/** What an agent sees of a symbol. */
export interface Features {
  price: number;
  /** Log returns over 1, 5 and 20 ticks. */
  r1: number;
  r5: number;
  r20: number;
  /** Standard deviation of the last 20 ticks' log returns. */
  vol20: number;
  /** Price against its 20-tick mean, in standard deviations of the 20 prices. */
  z20: number;
  /** Where the price is in the previous 20 ticks' range, 0..1. */
  rangePos: number;
  /** vol20 against the symbol's normal volatility. */
  volRatio: number;
  /** How far (a fraction of the price) it broke above the previous 20 ticks' high, or below their low. */
  breakoutUp: number;
  breakoutDown: number;
  /** RSI(14), 0..100. */
  rsi: number;
  funding: number;
  /** 20-tick trend strength, in sigmas. */
  trend: number;
  regime: SeenRegime;
  /** The recorded vector, SITUATION_FEATURES, each within -1..1 (rsi/100 within 0..1). */
  situation: number[];
}

const sd = (xs: readonly number[]): number => {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
};

export class Market {
  readonly #r: Rng;
  /** Funding draws come from their own stream, so the price paths do not depend on them. */
  readonly #fr: Rng;
  readonly #s = new Map<string, SymbolState>();
  tick = 0;

  constructor(seed: number) {
    this.#r = rng(seed);
    this.#fr = rng((seed ^ 0x9e3779b9) >>> 0);
    for (const def of SYMBOLS) {
      const m: SymbolState = { ...def, prices: [def.price], regime: 'trend', drift: 0, regimeLeft: 0, anchor: def.price, funding: 0 };
      this.#newRegime(m);
      this.#s.set(def.symbol, m);
    }
  }

  #newRegime(m: SymbolState): void {
    m.regime = this.#r.pick(REGIMES);
    m.regimeLeft = this.#r.int(30, 120);
    m.anchor = last(m.prices);
    // Trends drift by a fraction of a tick's volatility, up or down.
    m.drift = m.regime === 'trend' ? (this.#r.chance(0.5) ? 1 : -1) * this.#r.range(0.15, 0.45) * m.vol : 0;
  }

  /** One tick: every symbol moves. */
  step(): void {
    this.tick += 1;
    for (const m of this.#s.values()) {
      if (--m.regimeLeft <= 0) this.#newRegime(m);
      const p = last(m.prices);
      let mu = m.drift;
      let sigma = m.vol;
      if (m.regime === 'mean-revert') {
        mu = -0.12 * Math.log(p / m.anchor);
        sigma = m.vol * 0.9;
      } else if (m.regime === 'volatile') {
        sigma = m.vol * 2;
      }
      const next = p * Math.exp(mu - 0.5 * sigma * sigma + sigma * this.#r.gauss());
      m.prices.push(round(next, 2));
      if (m.prices.length > HISTORY) m.prices.shift();
      if (m.perp) {
        // Funding (bps per 8 h) leans with the recent trend: longs pay in rallies, shorts in sell-offs.
        const n = m.prices.length;
        const trend = Math.log(last(m.prices) / m.prices[Math.max(0, n - 21)]!) / (m.vol * Math.sqrt(20));
        m.funding = round(0.85 * m.funding + 0.15 * clamp(3 * trend, -30, 30) + 0.5 * this.#fr.gauss(), 3);
      }
    }
  }

  /** The symbols traded, in their fixed order. */
  get symbols(): string[] {
    return [...this.#s.keys()];
  }

  price(symbol: string): number {
    return last(this.spec(symbol).prices);
  }

  spec(symbol: string): SymbolState {
    const m = this.#s.get(symbol);
    if (!m) throw new RangeError(`unknown symbol '${symbol}'`);
    return m;
  }

  /**
   * The situation an agent sees: named features, the regime it reads from them
   * ('volatile', 'trending' or 'range-bound'; the market's true regime stays
   * hidden), and `situation`, the vector it records (SITUATION_FEATURES, each
   * roughly within -1..1): trend strength in 20-tick sigmas / 3, log of the
   * 20-tick volatility against the symbol's normal one, funding / 10 bps, RSI(14) / 100.
   */
  features(symbol: string): Features {
    const m = this.spec(symbol);
    const ps = m.prices;
    const n = ps.length;
    const p = last(ps);
    const at = (i: number): number => ps[i]!;
    const ret = (k: number): number => Math.log(p / at(Math.max(0, n - 1 - k)));
    const rets = (k: number): number[] => {
      const out: number[] = [];
      for (let i = Math.max(1, n - k); i < n; i++) out.push(Math.log(at(i) / at(i - 1)));
      return out;
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
      const d = at(i) - at(i - 1);
      if (d > 0) gains += d;
      else losses -= d;
    }
    const r20 = ret(20);
    const volRatio = vol20 / m.vol; // against the symbol's normal volatility
    const trend = r20 / (vol20 * Math.sqrt(20) || 1e-9);
    const rsi = losses === 0 ? (gains === 0 ? 50 : 100) : 100 - 100 / (1 + gains / losses);
    return {
      price: p,
      r1: ret(1),
      r5: ret(5),
      r20,
      vol20,
      z20: (p - sma) / psd,
      rangePos: hi > lo ? (p - lo) / (hi - lo) : 0.5,
      volRatio,
      breakoutUp: p > hi ? (p - hi) / p : 0,
      breakoutDown: p < lo ? (lo - p) / p : 0,
      rsi,
      funding: m.funding,
      trend,
      regime: volRatio > 1.6 ? 'volatile' : Math.abs(trend) > 1.5 ? 'trending' : 'range-bound',
      situation: [
        clamp(trend / 3, -1, 1),
        clamp(Math.log(volRatio || 1e-9), -1, 1),
        clamp(m.funding / 10, -1, 1),
        rsi / 100,
      ].map((x) => round(x, 4)),
    };
  }
}
