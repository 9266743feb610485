import { FarmbrainError } from '@farmbrain/contracts';
import { MAX_TIME_MS } from '../http/schemas.js';

/** Opaque keyset cursor: the (time, id) of the last row of the previous page. */
export interface Cursor {
  t: string;
  id: string;
}

/** The time as encodeCursor writes it (Date#toISOString): what Postgres reads back exactly. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Row ids are uuids, memory ids or agent ids: no control characters nor lone surrogates, bounded. */
const CURSOR_ID = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]{0,256}$/u;

export const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify([c.t, c.id])).toString('base64url');

/**
 * The cursor a page returned, checked so that nothing a client crafts reaches
 * a query: a time in the form and range encodeCursor writes, and a plain id.
 */
export function decodeCursor(s: string | undefined): Cursor | undefined {
  if (s === undefined || s === '') return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string'
      && CURSOR_TIME.test(v[0]) && CURSOR_ID.test(v[1])) {
      const ms = Date.parse(v[0]);
      if (Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS) return { t: v[0], id: v[1] };
    }
  } catch {
    /* fall through */
  }
  throw new FarmbrainError('INVALID_CURSOR', 'cursor is not one this API returned; pass the nextCursor of the previous page unchanged');
}
