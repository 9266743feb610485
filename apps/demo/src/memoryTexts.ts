/** What the fleet's memories say: kinds, texts, tags and importance. Pure. */
import type { MemoryKind } from '@farmbrain/contracts';
import type { CloseReason } from './decisions.js';
import { clamp, pct, round } from './format.js';
import type { Features } from './market.js';
import type { StrategyName } from './roster.js';
import type { StrategyParams } from './strategies.js';
import type { Position } from './trading.js';

/** A team's playbook, as its lead writes it (a 'procedure' memory in the team scope). */
export const PLAYBOOKS: Readonly<Record<StrategyName, (p: StrategyParams) => string>> = Object.freeze({
  momentum: (p: StrategyParams) => `Momentum team playbook: enter in the trend's direction when the 20-tick return exceeds ${p.entry}σ and the 5-tick return confirms; ` +
    `take profit at ${p.takeProfitVol} entry-volatilities, stop out at ${p.stopLossVol}, exit after ${p.maxHoldTicks} ticks. Size down on symbols the risk desk flags as volatile.`,
  'mean-reversion': (p: StrategyParams) => `Mean-reversion team playbook: fade moves beyond ${p.entry} sd of the 20-tick mean, never when volatility runs above ${p.maxVolRatio}x normal; ` +
    `exit when price crosses back to the mean, stop out at ${p.stopLossVol} entry-volatilities, give up after ${p.maxHoldTicks} ticks.`,
  breakout: (p: StrategyParams) => `Breakout team playbook: trade a close beyond the 20-tick high or low only with volatility at least ${p.minVolRatio}x normal; ` +
    `take profit at ${p.takeProfitVol} entry-volatilities, stop out at ${p.stopLossVol}; range-bound markets fake out, so wait for the break.`,
});

export interface MemoryDraft {
  kind: MemoryKind;
  text: string;
  tags: string[];
  importance: number;
}

export interface ClosedTrade {
  symbol: string;
  pos: Position;
  reason: CloseReason;
  pnl: number;
  notional: number;
  /** Ticks the position was held. */
  held: number;
  strategy: StrategyName;
}

/**
 * The memory a close leaves: a lesson after a loss, a reflection after a win.
 * Bigger P&L (relative to the position's size), more important: 1% of notional -> 0.55, 2.8% -> 1.
 */
export function closeMemory({ symbol, pos, reason, pnl, notional, held, strategy }: ClosedTrade): MemoryDraft {
  const win = pnl >= 0;
  const ret = pnl / notional;
  const text = win
    ? `Won $${pnl.toFixed(2)} (${pct(ret)}) on a ${strategy} ${pos.side} in ${symbol} in a ${pos.regime} market, held ${held} ticks, exit by ${reason}. The entry (${pos.why}) paid off; this setup is worth repeating.`
    : `Lost $${Math.abs(pnl).toFixed(2)} (${pct(ret)}) on a ${strategy} ${pos.side} in ${symbol} in a ${pos.regime} market, held ${held} ticks, exit by ${reason}. Entry was: ${pos.why}. ` +
      (reason === 'stop-loss' ? 'Lesson: the move reversed fast; demand a stronger signal or size down here.' : 'Lesson: the edge did not show up in time; fees ate the rest.');
  return {
    kind: win ? 'reflection' : 'lesson',
    text,
    tags: [symbol, pos.regime, win ? 'win' : 'loss', strategy, reason],
    importance: round(clamp(0.3 + Math.abs(ret) * 25, 0.05, 1), 3),
  };
}

/** Whether a symbol's features are worth an observation without a coin toss. */
export const isNotable = (f: Features): boolean => f.volRatio > 1.7 || Math.abs(f.z20) > 2.4 || f.breakoutUp > 0 || f.breakoutDown > 0;

/** An observation of a symbol: how it looks, in numbers. */
export function observationMemory(symbol: string, f: Features, perp: boolean): MemoryDraft {
  const looks = f.regime === 'trending' ? `trending ${f.trend > 0 ? 'up' : 'down'}` : f.regime;
  return {
    kind: 'observation',
    text: `${symbol} looks ${looks}: 20-tick return ${pct(f.r20)} (${f.trend.toFixed(1)}σ), volatility ${pct(f.vol20, 3)}/tick (${f.volRatio.toFixed(1)}x normal), ` +
      `z-score ${f.z20.toFixed(2)}, RSI ${f.rsi.toFixed(0)}${perp ? `, funding ${f.funding.toFixed(1)} bps` : ''}, price ${f.price}.`,
    tags: [symbol, f.regime],
    importance: round(clamp(0.2 + 0.15 * Math.max(f.volRatio - 1, Math.abs(f.z20) - 1.5, 0), 0.1, 0.7), 3),
  };
}

/** The risk desk's standing fact: the fleet's risk limits. */
export const riskLimitsText = (maxNotional: number, maxStop: number, symbols: readonly string[]): string =>
  `Fleet risk limits (risk desk): one open position per agent and symbol; notional per position at most $${maxNotional.toLocaleString('en-US')}; ` +
  `every position carries a stop-loss of at most ${maxStop} entry-volatilities and a time exit; size down on symbols under a risk-desk volatility alert; ` +
  `all positions are flattened when the fleet stops. Watched: ${symbols.join(', ')}.`;

/** A risk desk volatility alert on a symbol at `level` times its normal volatility. */
export const alertText = (symbol: string, level: number, f: Pick<Features, 'r20' | 'price'>): string =>
  `Risk desk alert: ${symbol} volatility is ${level.toFixed(1)}x its normal level (20-tick return ${pct(f.r20)}, price ${f.price}). ` +
  'Fleet-wide: size new positions down, widen no stops, and prefer to wait out range breaks until the alert is withdrawn.';
