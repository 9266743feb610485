/**
 * The decision rules an agent applies after its strategy's signal: when a flat
 * agent records a hold, how its own lessons change confidence and size, how
 * big a position is, when a position is closed. Pure.
 */
import type { MemoryKind } from '@farmbrain/contracts';
import { clamp, round } from './format.js';
import type { Features, SymbolSpec } from './market.js';
import type { StrategyName } from './roster.js';
import type { Signal, SignalAction, StrategyParams } from './strategies.js';
import { moveOf, type Position } from './trading.js';

/** Flat and without a signal, an agent records a 'hold' (and consults its memory) only every this many ticks per symbol. */
export const FLAT_HOLD_EVERY = 4;

/** Whether a flat agent acts on this signal now: always on a buy or sell, on a hold every FLAT_HOLD_EVERY ticks (staggered by symbol). */
export const decidesNow = (sig: Signal, ticks: number, symbolIndex: number): boolean =>
  sig.action !== 'hold' || (ticks + symbolIndex) % FLAT_HOLD_EVERY === 0;

/** A memory of this run, as the agent keeps track of it. */
export interface OwnMemory {
  memoryId: string;
  kind: MemoryKind;
  tags: string[];
  importance: number;
  /** The agent's tick count when stored. */
  tick: number;
}

/** The lessons and reflections about a symbol from this run, which set the size (deterministic, unlike a recall): the top 3. */
export function workingMemories(memories: readonly OwnMemory[], symbol: string): OwnMemory[] {
  return memories
    .filter((m) => (m.kind === 'lesson' || m.kind === 'reflection') && m.tags.includes(symbol))
    .sort((a, b) => b.importance - a.importance || b.tick - a.tick)
    .slice(0, 3);
}

export interface EntryDecision {
  action: SignalAction;
  /** Unrounded. */
  confidence: number;
  why: string;
  /** 0 for a hold. */
  qty: number;
}

/**
 * The decision a flat agent records: the signal, adjusted by its working
 * memories of the symbol (two losing lessons or more: confidence down, half
 * size; none but wins: confidence up), and sized from its notional.
 */
export function entryDecision(
  sig: Signal,
  working: readonly OwnMemory[],
  symbol: string,
  params: Pick<StrategyParams, 'notionalUsd'>,
  price: number,
  spec: Pick<SymbolSpec, 'qtyDecimals'>,
): EntryDecision {
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
  let qty = 0;
  if (sig.action !== 'hold') {
    qty = round((params.notionalUsd * sizeMult * (0.5 + confidence)) / price, spec.qtyDecimals);
    if (spec.qtyDecimals === 0) qty = Math.max(1, qty);
  }
  return { action: sig.action, confidence, why, qty };
}

export type ExitReason = 'take-profit' | 'stop-loss' | 'reverted-to-mean' | 'time-exit';
/** Why a position is closed: an exit rule, or the fleet stopping. */
export type CloseReason = ExitReason | 'shutdown';

export interface ExitCheck {
  /** null: keep the position. */
  reason: ExitReason | null;
  /** The move since entry in the position's favour. */
  move: number;
}

/** The exit rule: take profit, stop loss, the strategy's own exit (mean reversion: back at the mean), or time. */
export function exitCheck(pos: Position, f: Pick<Features, 'price' | 'z20'>, params: StrategyParams, strategy: StrategyName, ticks: number): ExitCheck {
  const move = moveOf(pos, f.price);
  if (move >= params.takeProfitVol * pos.entryVol) return { reason: 'take-profit', move };
  if (move <= -params.stopLossVol * pos.entryVol) return { reason: 'stop-loss', move };
  if (strategy === 'mean-reversion' && (pos.side === 'long' ? f.z20 >= 0 : f.z20 <= 0)) return { reason: 'reverted-to-mean', move };
  if (ticks - pos.entryTick >= params.maxHoldTicks) return { reason: 'time-exit', move };
  return { reason: null, move };
}

/** The confidence of a 'hold' on an open position: 0.5, more as it nears its take-profit, less as it loses (0.1..0.9). */
export const holdConfidence = (move: number, pos: Pick<Position, 'entryVol'>, params: Pick<StrategyParams, 'takeProfitVol'>): number =>
  round(clamp(0.5 + move / (params.takeProfitVol * pos.entryVol) / 2, 0.1, 0.9), 3);
