/** The fleet's counters, and the lines that report them. */
import { usd } from './format.js';

export interface FleetStats {
  decisions: number;
  trades: number;
  closes: number;
  memories: number;
  /** Memories stored in a team or the fleet scope. */
  shared: number;
  updates: number;
  forgets: number;
  checkpoints: number;
  recalls: number;
  similar: number;
  /** SDK calls rejected, and ticks that failed. */
  errors: number;
  /** Gateway reads that failed. */
  readErrors: number;
}

export const newStats = (): FleetStats => ({
  decisions: 0, trades: 0, closes: 0, memories: 0, shared: 0, updates: 0, forgets: 0, checkpoints: 0,
  recalls: 0, similar: 0, errors: 0, readErrors: 0,
});

/** The progress line logged every 40 ticks. */
export const progressLine = (tick: number, s: FleetStats, pnl: number, open: number): string =>
  `demo fleet: tick ${tick}: ${s.decisions} decisions, ${s.trades} trades, ${s.closes} closes (fleet P&L ${usd(pnl)}, ${open} open), ` +
  `${s.memories} memories (${s.shared} shared, ${s.updates} updated, ${s.forgets} forgotten), ` +
  `${s.recalls} recalls, ${s.similar} similar-decision lookups, ${s.checkpoints} checkpoints, ${s.errors} errors` +
  (s.readErrors ? `, ${s.readErrors} failed reads` : '');

/** The line logged once the fleet has stopped. */
export const stoppedLine = (s: FleetStats): string =>
  `demo fleet stopped: ${s.decisions} decisions, ${s.trades} trades, ${s.closes} closes, ${s.memories} memories (${s.shared} shared), ` +
  `${s.recalls} recalls, ${s.similar} similar-decision lookups, ${s.checkpoints} checkpoints, ${s.errors} errors`;
