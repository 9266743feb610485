import { FarmbrainError } from '@farmbrain/contracts';

/** Opaque keyset cursor: the (time, id) of the last row of the previous page. */
export interface Cursor {
  t: string;
  id: string;
}

export const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify([c.t, c.id])).toString('base64url');

export function decodeCursor(s: string | undefined): Cursor | undefined {
  if (s === undefined || s === '') return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]))) {
      return { t: v[0], id: v[1] };
    }
  } catch {
    /* fall through */
  }
  throw new FarmbrainError('INVALID_CURSOR', 'cursor is not one this API returned; pass the nextCursor of the previous page unchanged');
}

/** Accepts an ISO date-time or epoch milliseconds. */
export function parseTime(name: string, s: string | undefined): Date | undefined {
  if (s === undefined || s === '') return undefined;
  const d = /^\d+$/.test(s) ? new Date(Number(s)) : new Date(s);
  if (Number.isNaN(d.getTime())) {
    throw new FarmbrainError('BAD_REQUEST', `${name}='${s}' is not a time: use an ISO 8601 date-time or epoch milliseconds`);
  }
  return d;
}
