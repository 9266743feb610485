import { COUNTERS, columnOf, zeroCounters, type Counters } from './accumulate.js';
import { GRAIN_MS } from './buckets.js';
import { LATENCY_BINS } from './histogram.js';
import type { Grain } from './types.js';

/** `sum(col)::float8 AS col, …` over every counter, for a GROUP BY over partitions (and buckets). */
export const SUM_COUNTERS = COUNTERS.map((c) => `coalesce(sum(${columnOf(c)}), 0)::float8 AS ${columnOf(c)}`).join(', ');

export const countersOf = (row: Record<string, unknown>): Counters => {
  const c = zeroCounters();
  for (const k of COUNTERS) c[k] = Number(row[columnOf(k)] ?? 0);
  return c;
};

/** Buckets of `grain` overlapping [from, to): bucket > from − width and bucket < to. */
export const overlapping = (grain: Grain, from: number, to: number): [Date, Date] => [new Date(from - GRAIN_MS[grain]), new Date(to)];

export const emptyHistogram = (): number[] => new Array<number>(LATENCY_BINS).fill(0);

export const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

export const decisionsOf = (c: Counters): number => c.decisionsBuy + c.decisionsSell + c.decisionsHold + c.decisionsClose;
