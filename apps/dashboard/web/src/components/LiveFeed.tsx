import { useFeed, type FeedState } from '../feed';
import { fmtNum, fmtPct, fmtTime, shortId } from '../format';
import { Empty } from './ui';

const STATE_TEXT: Record<FeedState, string> = { open: 'live', reconnecting: 'reconnecting…', closed: 'disconnected' };

/** The connection to /v1/feed: open, reconnecting (the browser retries and resumes), closed. */
export function LiveStatus() {
  const { state, everOpened } = useFeed();
  const text = state === 'reconnecting' && !everOpened ? 'connecting…' : STATE_TEXT[state];
  return (
    <span className={`live-status live-${state}`} data-testid="live-status" data-state={state} role="status"
      title={state === 'closed' ? 'The live feed is not available; retrying every few seconds. Figures still refresh periodically.' : 'Live updates from /v1/feed'}>
      <span className="dot" aria-hidden="true" />{text}
    </span>
  );
}

/** New decisions and alerts as they arrive, newest first. */
export function LiveFeed({ limit = 30 }: { limit?: number }) {
  const { items, state } = useFeed();
  return (
    <>
      <ul className="live-feed" data-testid="live-feed" aria-live="polite">
        {items.slice(0, limit).map((it) => (
          <li key={`${it.kind}:${it.id}`} data-event-id={it.id} data-kind={it.kind} className={`feed-item feed-${it.kind}`}>
            {it.kind === 'decision' && it.decision ? (
              <>
                <span className={`badge act-${it.decision.action}`}>{it.decision.action}</span>
                <span className="feed-main"><b>{it.decision.agentId}</b> {it.decision.symbol}{it.decision.size ? ` × ${fmtNum(it.decision.size, 4)}` : ''} <span className="muted">conf {fmtPct(it.decision.confidence, 0)}</span>
                  {it.decision.memoryIds?.length ? <span className="muted"> · cites {it.decision.memoryIds.length}</span> : null}</span>
                <span className="muted small">{fmtTime(it.decision.occurredAt)}</span>
              </>
            ) : it.alert ? (
              <>
                <span className={`badge sev-${it.alert.severity ?? 'info'}`}>{it.alert.state === 'resolved' ? 'resolved' : it.alert.severity ?? 'alert'}</span>
                <span className="feed-main">{it.alert.message || `${it.alert.rule ?? 'alert'} ${shortId(it.alert.alertId)}`}</span>
                <span className="muted small">{fmtTime(it.alert.firedAt ?? it.at)}</span>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      {items.length === 0 && (
        <Empty>{state === 'open' ? 'Connected. New decisions and alerts appear here as they happen.' : state === 'closed' ? 'The live feed is not reachable; retrying. Is the gateway running?' : 'Connecting to the live feed…'}</Empty>
      )}
    </>
  );
}
