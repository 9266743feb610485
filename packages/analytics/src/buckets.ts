import type { Grain } from './types.js';

export const GRAIN_MS: Record<Grain, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Epoch ms of the UTC start of the `grain` bucket holding `t` (UTC has no leap seconds in epoch ms). */
export const bucketOf = (t: number, grain: Grain): number => Math.floor(t / GRAIN_MS[grain]) * GRAIN_MS[grain];

/** The coarsest grain that still gives some resolution over a window: minute ≤ 6 h, hour ≤ 14 d, day beyond. */
export function grainFor(windowMs: number): Grain {
  if (windowMs <= 6 * GRAIN_MS.hour) return 'minute';
  if (windowMs <= 14 * GRAIN_MS.day) return 'hour';
  return 'day';
}
