import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { FEED_URL, type FeedAlert, type FeedDecision, type FeedMetrics } from './api';

export type FeedState = 'open' | 'reconnecting' | 'closed';
export interface FeedItem { id: string; kind: 'decision' | 'alert'; at: number; decision?: FeedDecision; alert?: FeedAlert }

export interface Feed {
  state: FeedState;
  /** Newest first, at most MAX_ITEMS. */
  items: FeedItem[];
  /** The latest `metrics` event, with when it arrived. */
  metrics: { at: number; data: FeedMetrics } | undefined;
  /** Bumped on every decision (lists that show decisions refresh on it). */
  decisions: number;
  /** Bumped on every alert. */
  alerts: number;
  /** Whether this connection has ever opened (false: still connecting the first time). */
  everOpened: boolean;
  /**
   * Bumped when the gateway says the feed skipped something (`gap`: a resume older than it replays, or past the
   * stream's retention; `reset`: a resume id it does not know, a recreated stream): views read their data again.
   */
  resets: number;
}

const MAX_ITEMS = 60;
const RETRY_CLOSED_MS = 5000;
const EMPTY: Feed = { state: 'reconnecting', items: [], metrics: undefined, decisions: 0, alerts: 0, everOpened: false, resets: 0 };
const FeedContext = createContext<Feed>(EMPTY);
export const useFeed = () => useContext(FeedContext);

const parse = (s: string): unknown => { try { return JSON.parse(s); } catch { return undefined; } };

/**
 * One EventSource on /v1/feed for the whole app. The browser reconnects by itself
 * and sends Last-Event-ID, so the gateway resumes without loss; when the source
 * gives up (CLOSED: the gateway answered with an error), a new one is opened
 * after RETRY_CLOSED_MS with ?lastEventId= so the resume still holds.
 */
export function FeedProvider({ children }: { children: ReactNode }) {
  const [feed, setFeed] = useState<Feed>(EMPTY);
  const lastId = useRef<string>('');

  useEffect(() => {
    if (typeof EventSource === 'undefined') { setFeed((f) => ({ ...f, state: 'closed' })); return; }
    let es: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    const connect = () => {
      const url = lastId.current ? `${FEED_URL}?lastEventId=${encodeURIComponent(lastId.current)}` : FEED_URL;
      const src = new EventSource(url);
      es = src;
      src.onopen = () => setFeed((f) => ({ ...f, state: 'open', everOpened: true }));
      src.onerror = () => {
        if (src.readyState === EventSource.CLOSED) {
          setFeed((f) => ({ ...f, state: 'closed' }));
          if (!stopped) retry = setTimeout(connect, RETRY_CLOSED_MS);
        } else setFeed((f) => ({ ...f, state: 'reconnecting' }));
      };
      const push = (kind: 'decision' | 'alert') => (ev: MessageEvent<string>) => {
        const data = parse(ev.data) as (FeedDecision & FeedAlert) | undefined;
        if (!data) return;
        if (ev.lastEventId) lastId.current = ev.lastEventId;
        // Items are named by the event's own id (what a client that wrote it knows), not the stream sequence.
        const id = (kind === 'decision' ? data.eventId : (data as { eventId?: string }).eventId ?? data.alertId) || ev.lastEventId || String(Date.now());
        const item: FeedItem = kind === 'decision' ? { id, kind, at: Date.now(), decision: data } : { id, kind, at: Date.now(), alert: data };
        setFeed((f) => {
          if (f.items.some((i) => i.id === id && i.kind === kind)) return f;
          return {
            ...f,
            items: [item, ...f.items].slice(0, MAX_ITEMS),
            decisions: f.decisions + (kind === 'decision' ? 1 : 0),
            alerts: f.alerts + (kind === 'alert' ? 1 : 0),
          };
        });
      };
      src.addEventListener('decision', push('decision'));
      src.addEventListener('alert', push('alert'));
      const skipped = (ev: MessageEvent<string>) => {
        if (ev.lastEventId) lastId.current = ev.lastEventId;
        setFeed((f) => ({ ...f, resets: f.resets + 1 }));
      };
      src.addEventListener('gap', skipped);
      src.addEventListener('reset', skipped);
      src.addEventListener('metrics', (ev: MessageEvent<string>) => {
        const data = parse(ev.data) as FeedMetrics | undefined;
        if (data) setFeed((f) => ({ ...f, metrics: { at: Date.now(), data } }));
      });
    };
    connect();
    return () => { stopped = true; clearTimeout(retry); es?.close(); };
  }, []);

  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}
