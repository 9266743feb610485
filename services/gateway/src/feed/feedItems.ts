/**
 * What the live feed (GET /v1/feed) sends, as pure functions: which canonical
 * events become feed items, their SSE frames, and the position of each item in
 * the log (the canonical stream sequence of its message, and its index among the
 * message's items), which is what `id:` carries and `Last-Event-ID` resumes from.
 */
import type { AlertChanged } from '@farmbrain/contracts';
import { firstOfEach, type SeqEvent } from '@farmbrain/projection';

export type FeedKind = 'decision' | 'alert';

/** Where an item is in the log: message `seq`, item `idx` of that message (Infinity: after every item of it). */
export interface FeedPosition {
  seq: number;
  idx: number;
}

export interface FeedItem extends FeedPosition {
  kind: FeedKind;
  /** The event's id: the feed sends each event once, even when a republish put it in a later message too. */
  eventId: string;
  /** The SSE frame, `id:`, `event:` and `data:` lines, blank line included. */
  frame: string;
}

/** Strictly after `p`: what a client that has seen up to `p` still needs. */
export const isAfter = (x: FeedPosition, p: FeedPosition): boolean => x.seq > p.seq || (x.seq === p.seq && x.idx > p.idx);

/**
 * The `id:` of an item: the stream sequence when it is the last (usually the only) item of its message,
 * `<seq>:<idx>` for the earlier ones, so a client that drops mid-message resumes without a duplicate.
 */
export const idOf = (seq: number, idx: number, last: boolean): string => (last ? String(seq) : `${seq}:${idx}`);

/** The resume id of a position (the inverse of parseEventId). */
export const positionId = (p: FeedPosition): string => (p.idx === Number.POSITIVE_INFINITY ? String(p.seq) : `${p.seq}:${p.idx}`);

/** The pattern of a resume id (`Last-Event-ID` or `?lastEventId=`); empty: none. */
export const EVENT_ID_PATTERN = '^(?:\\d{1,15}(?::\\d{1,6})?)?$';

/** A resume id as a position (`<seq>`: after every item of that message), or undefined when it is not one. */
export function parseEventId(id: string): FeedPosition | undefined {
  const m = /^(\d{1,15})(?::(\d{1,6}))?$/.exec(id.trim());
  if (!m) return undefined;
  return { seq: Number(m[1]), idx: m[2] === undefined ? Number.POSITIVE_INFINITY : Number(m[2]) };
}

/** One SSE frame; `data` is JSON on one line (JSON.stringify never writes a raw newline). */
export const sseFrame = (event: string, data: unknown, id?: string): string =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** What a decision item carries. */
export interface FeedDecision {
  eventId: string;
  agentId: string;
  symbol: string;
  action: string;
  size: number;
  confidence: number;
  occurredAt: number;
  memoryIds: string[];
  recallIds: string[];
  streamSeq: number;
}

/** What an alert item carries: the alert_changed event's payload (the contract's AlertChanged) and where it stands on the log. */
export type FeedAlert = AlertChanged & { eventId: string; agentId: string; occurredAt: number; streamSeq: number };

function dataOf(e: SeqEvent): { kind: FeedKind; data: FeedDecision | FeedAlert } | undefined {
  if (e.type === 'decision_made') {
    const d = e.data;
    return {
      kind: 'decision',
      data: {
        eventId: e.eventId, agentId: e.agentId, symbol: d.symbol, action: d.action, size: d.size, confidence: d.confidence,
        occurredAt: e.occurredAt, memoryIds: d.memoryIds, recallIds: d.recallIds, streamSeq: e.streamSeq,
      },
    };
  }
  if (e.type === 'alert_changed') {
    const a = e.data;
    return {
      kind: 'alert',
      data: {
        ...a, eventId: e.eventId, agentId: e.agentId, occurredAt: e.occurredAt, streamSeq: e.streamSeq,
      },
    };
  }
  return undefined;
}

/** The feed items of one canonical message's events (decisions and alerts, each event once), in log order. */
export function feedItems(seq: number, events: readonly SeqEvent[]): FeedItem[] {
  const picked = firstOfEach(events).map(dataOf).filter((x) => x !== undefined);
  return picked.map((p, idx) => ({ seq, idx, kind: p.kind, eventId: p.data.eventId, frame: sseFrame(p.kind, p.data, idOf(seq, idx, idx === picked.length - 1)) }));
}
