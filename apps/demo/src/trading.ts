/** Positions, fills and P&L on the simulated market. Pure. */
import type { Side } from '@farmbrain/contracts';
import { round } from './format.js';
import type { SeenRegime, SymbolSpec } from './market.js';

export type PositionSide = 'long' | 'short';

/** An open position, as its agent keeps it. */
export interface Position {
  side: PositionSide;
  qty: number;
  entryPrice: number;
  entryFees: number;
  /** The agent's tick count at entry. */
  entryTick: number;
  /** The 20-tick volatility at entry: exits are measured in it. */
  entryVol: number;
  /** The situation at entry (cited by the lesson or reflection after the close). */
  situation: number[];
  regime: SeenRegime;
  /** The entry's reason. */
  why: string;
  /** Event ids behind the position (entry decision, entry trade). */
  ids: string[];
  decisionIds: string[];
}

export const sideOf = (action: 'buy' | 'sell'): PositionSide => (action === 'buy' ? 'long' : 'short');
/** The side of the trade that closes a position. */
export const closingSide = (side: PositionSide): Side => (side === 'long' ? 'sell' : 'buy');
const direction = (side: PositionSide): number => (side === 'long' ? 1 : -1);

/** The price move since entry in the position's favour, as a fraction (+0.01: 1% in its favour). */
export const moveOf = (pos: Pick<Position, 'side' | 'entryPrice'>, price: number): number => (price / pos.entryPrice - 1) * direction(pos.side);

export interface Fill {
  price: number;
  fees: number;
}

/** A market order filled at the mid price plus slippage against the taker, with the symbol's fee rate. */
export function fill(spec: Pick<SymbolSpec, 'slipBps' | 'feeRate'>, mid: number, side: Side, qty: number): Fill {
  const price = round(mid * (1 + ((side === 'buy' ? 1 : -1) * spec.slipBps) / 10_000), 2);
  return { price, fees: round(qty * price * spec.feeRate, 4) };
}

/** Realized P&L: price difference in the position's direction times quantity, net of both fees. */
export function realizedPnl(pos: Pick<Position, 'side' | 'entryPrice' | 'qty' | 'entryFees'>, exit: Fill): number {
  const gross = (exit.price - pos.entryPrice) * pos.qty * direction(pos.side);
  return round(gross - pos.entryFees - exit.fees, 2);
}
