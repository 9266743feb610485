import type { ReactNode } from 'react';
import type { ApiError } from '../api';
import { raw } from '../format';

/** A figure the browser tests compare with the API: data-value is the raw API number; the text is for people. */
export function Metric({ k, value, text, label, hint, tone }: {
  k: string; value: number | null | undefined; text: string; label: string; hint?: ReactNode; tone?: 'good' | 'bad' | 'warn' | undefined;
}) {
  return (
    <div className="metric">
      <div className="metric-label">{label}</div>
      <div className={`metric-value${tone ? ` tone-${tone}` : ''}`} data-metric={k} data-value={raw(value)}>{text}</div>
      {hint !== undefined && <div className="metric-hint">{hint}</div>}
    </div>
  );
}

export function Card({ title, children, actions, className, testid }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string; testid?: string }) {
  return (
    <section className={`card${className ? ` ${className}` : ''}`} data-testid={testid}>
      {(title !== undefined || actions !== undefined) && (
        <header className="card-head">
          {title !== undefined && <h2>{title}</h2>}
          {actions !== undefined && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

/** What went wrong and what to do, from the gateway's error body. */
export function ErrorBox({ error, what, retry }: { error: ApiError; what: string; retry?: () => void }) {
  const advice =
    error.status === 0 ? 'Start the stack with `npm start`, then retry.'
    : error.status === 503 ? 'The service behind this view is not running or not ready yet; it is retried automatically.'
    : error.status === 404 ? 'The gateway does not know this yet (is it up to date?).'
    : undefined;
  return (
    <div className="state state-error" role="alert">
      <strong>Could not load {what}.</strong>
      <span className="state-msg">{error.message}{error.code ? <code className="state-code">{error.code}</code> : null}</span>
      {advice && <span className="state-advice">{advice}</span>}
      {retry && <button className="btn btn-small" onClick={retry}>Retry</button>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <div className="state state-loading" aria-busy="true"><span className="spinner" aria-hidden="true" />Loading {what}…</div>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** A horizontal bar for a share of a total. */
export function Bar({ value, max, tone }: { value: number; max: number; tone?: string }) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  return <span className="bar" aria-hidden="true"><span className="bar-fill" style={{ width: `${pct}%`, background: tone ? `var(${tone})` : undefined }} /></span>;
}
