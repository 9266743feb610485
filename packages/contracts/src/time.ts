import { FarmbrainError } from './errors.js';
import { MAX_TIME_MS } from './fieldRules.js';

/** A time as farmbrain accepts it: epoch milliseconds (a number, or a string of digits) or an ISO 8601 date / date-time. */
export type InstantInput = number | string;

/**
 * THE parser of "epoch ms or ISO time": a number as is, a string of digits as
 * that number, any other string as an ISO 8601 date-time (Date.parse; NaN when
 * it is not one). undefined when absent (undefined, null or ''). It does not
 * check the range: parseInstant does, or validateEvent for an event's times.
 */
export function instantMs(v: InstantInput | null | undefined): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.NaN;
}

/**
 * A time input (a request's since/until/from/to/expiresAt...), checked: an
 * integer number of epoch milliseconds from 0 (1970) to MAX_TIME_MS (year 9999),
 * what every store can compare with. undefined when absent. Otherwise throws a
 * FarmbrainError with `code` whose message names the input `name`.
 */
export function parseInstant(name: string, v: InstantInput | null | undefined, code = 'INVALID_REQUEST'): Date | undefined {
  const ms = instantMs(v);
  if (ms === undefined) return undefined;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new FarmbrainError(code, `${name}=${JSON.stringify(v)} is not a time from 1970 to 9999: use epoch milliseconds (0 to ${MAX_TIME_MS}) or an ISO 8601 date-time`);
  }
  return new Date(ms);
}
