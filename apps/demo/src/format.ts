/** Rounding, bounds and the formats the demo writes its rationales, memories and logs in. */

export const round = (x: number, decimals: number): number => Math.round(x * 10 ** decimals) / 10 ** decimals;
export const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
/** `+1.23%` */
export const pct = (x: number, decimals = 2): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(decimals)}%`;
/** `+$12.30`, `-$4.00` */
export const usd = (x: number): string => `${x < 0 ? '-' : '+'}$${Math.abs(x).toFixed(2)}`;
/** At most n characters, an ellipsis marking a cut. */
export const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The last element of a non-empty list. */
export function last<T>(items: readonly T[]): T {
  const item = items[items.length - 1];
  if (item === undefined) throw new RangeError('last of an empty list');
  return item;
}

const field = (err: unknown, key: 'code' | 'name' | 'message' | 'stack'): string | undefined => {
  if (err === null || typeof err !== 'object') return undefined;
  const v = (err as Record<string, unknown>)[key];
  return v === undefined || v === null ? undefined : String(v);
};
/** An error's code (FarmbrainError), else its name, else 'ERROR'. */
export const errorCode = (err: unknown): string => field(err, 'code') ?? field(err, 'name') ?? 'ERROR';
/** An error's message, else the value itself. */
export const errorMessage = (err: unknown): string => field(err, 'message') ?? String(err);
/** An error's stack, else the value itself. */
export const errorStack = (err: unknown): string => field(err, 'stack') ?? String(err);
