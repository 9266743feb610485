/**
 * The strategies: each turns a symbol's features into a signal
 * { action: buy | sell | hold, confidence, why }. Pure.
 */
import { clamp, pct, round } from './format.js';
import type { Features } from './market.js';
import type { StrategyName } from './roster.js';
import type { Rng } from './rng.js';

export type SignalAction = 'buy' | 'sell' | 'hold';

export interface Signal {
  action: SignalAction;
  /** 0.05..0.95 */
  confidence: number;
  /** Why, in words (the decision's rationale). */
  why: string;
}

/** An agent's parameters, drawn once from its seed. */
export interface StrategyParams {
  /** Entry bar: trend sigmas (momentum), z-score (mean reversion); 0 for breakout. */
  entry: number;
  /** Mean reversion does not fade moves above this volatility ratio. */
  maxVolRatio: number;
  /** Breakout trades a break only with at least this volatility ratio. */
  minVolRatio: number;
  /** Take profit at this many entry-volatilities. */
  takeProfitVol: number;
  /** Stop out at this many entry-volatilities. */
  stopLossVol: number;
  /** Time exit after this many ticks. */
  maxHoldTicks: number;
  notionalUsd: number;
}

export type Strategy = (f: Features, p: StrategyParams) => Signal;

export const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = Object.freeze({
  momentum(f: Features, p: StrategyParams): Signal {
    const t = f.trend; // trend strength in sigmas
    const conf = clamp(0.45 + 0.18 * (Math.abs(t) - p.entry), 0.05, 0.95);
    if (t > p.entry && f.r5 > 0) return { action: 'buy', confidence: conf, why: `20-tick return ${pct(f.r20)} (${t.toFixed(1)}σ) with 5-tick ${pct(f.r5)} confirming: ride the uptrend` };
    if (t < -p.entry && f.r5 < 0) return { action: 'sell', confidence: conf, why: `20-tick return ${pct(f.r20)} (${t.toFixed(1)}σ) with 5-tick ${pct(f.r5)} confirming: ride the downtrend` };
    return { action: 'hold', confidence: clamp(1 - Math.abs(t) / (p.entry * 2), 0.2, 0.9), why: `trend ${t.toFixed(1)}σ is below the ${p.entry.toFixed(1)}σ entry bar: no momentum` };
  },
  'mean-reversion'(f: Features, p: StrategyParams): Signal {
    const conf = clamp(0.45 + 0.2 * (Math.abs(f.z20) - p.entry), 0.05, 0.95);
    if (f.volRatio > p.maxVolRatio) return { action: 'hold', confidence: 0.6, why: `volatility ${f.volRatio.toFixed(1)}x normal: fading moves is unsafe now` };
    if (f.z20 < -p.entry) return { action: 'buy', confidence: conf, why: `price ${f.z20.toFixed(2)} sd below its 20-tick mean: expect a bounce` };
    if (f.z20 > p.entry) return { action: 'sell', confidence: conf, why: `price ${f.z20.toFixed(2)} sd above its 20-tick mean: expect a pullback` };
    return { action: 'hold', confidence: clamp(1 - Math.abs(f.z20) / (p.entry * 2), 0.2, 0.9), why: `z-score ${f.z20.toFixed(2)} within ±${p.entry.toFixed(1)}: price near fair value` };
  },
  breakout(f: Features, p: StrategyParams): Signal {
    const conf = clamp(0.5 + 0.15 * (f.volRatio - 1) + 40 * (f.breakoutUp + f.breakoutDown), 0.05, 0.95);
    if (f.breakoutUp > 0 && f.volRatio >= p.minVolRatio) return { action: 'buy', confidence: conf, why: `broke above the 20-tick high by ${pct(f.breakoutUp, 3)} on ${f.volRatio.toFixed(1)}x volatility` };
    if (f.breakoutDown > 0 && f.volRatio >= p.minVolRatio) return { action: 'sell', confidence: conf, why: `broke below the 20-tick low by ${pct(f.breakoutDown, 3)} on ${f.volRatio.toFixed(1)}x volatility` };
    return { action: 'hold', confidence: 0.5, why: `inside the 20-tick range (at ${(f.rangePos * 100).toFixed(0)}%): waiting for a breakout` };
  },
});

/** What a strategy makes of a symbol's features. */
export const signal = (strategy: StrategyName, f: Features, p: StrategyParams): Signal => STRATEGIES[strategy](f, p);

/** The entry bar's range per strategy. */
const ENTRY: Readonly<Record<StrategyName, readonly [number, number]>> = { momentum: [1.2, 1.8], 'mean-reversion': [1.5, 2.1], breakout: [0, 0] };

/** An agent's parameters, drawn from its own random stream (in this order: the stream's position matters). */
export function drawParams(strategy: StrategyName, r: Rng): StrategyParams {
  const [lo, hi] = ENTRY[strategy];
  return {
    entry: round(r.range(lo, hi), 2),
    maxVolRatio: round(r.range(1.6, 2.2), 2),
    minVolRatio: round(r.range(0.8, 1.1), 2),
    takeProfitVol: round(r.range(2.5, 4.5), 2),
    stopLossVol: round(r.range(2.0, 3.5), 2),
    maxHoldTicks: r.int(8, 20),
    notionalUsd: r.pick([5000, 10000, 20000]),
  };
}
