import { useState } from 'react';
import { api, ApiError, type OptimizeReport } from '../api';
import { fmtBytes, fmtInt, fmtMs, fmtTime } from '../format';
import { Card, Empty, ErrorBox, Metric } from '../components/ui';

type Run = { kind: 'preview' | 'done'; report: OptimizeReport } | undefined;

/** Bytes saved across the tiers (a dry run estimates them). */
export const savedBytes = (r: OptimizeReport) => r.tiers.reduce((s, t) => s + t.saved, 0);

export function Optimization() {
  const [run, setRun] = useState<Run>();
  const [busy, setBusy] = useState<'preview' | 'run' | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<ApiError>();

  const go = async (dryRun: boolean) => {
    setBusy(dryRun ? 'preview' : 'run');
    setError(undefined);
    setConfirming(false);
    try {
      const report = await api.optimize(dryRun);
      setRun({ kind: dryRun ? 'preview' : 'done', report });
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT_ERROR', String(e)));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="tab-body">
      <Card title="Optimize memory" className="span-all">
        <p className="muted">
          Optimizing applies the lifecycle policies now (expiry, retention), consolidates similar memories, compacts cold blocks,
          vacuums the tables it wrote and trims idle Redis copies. Preview first: a dry run shows what each step would do and
          the bytes per tier it would save, changing nothing.
        </p>
        <div className="actions">
          <button className="btn" data-testid="optimize-preview" disabled={busy !== null} onClick={() => void go(true)}>
            {busy === 'preview' ? 'Previewing…' : 'Preview (dry run)'}
          </button>
          <button className="btn btn-primary" data-testid="optimize-run" disabled={busy !== null} onClick={() => setConfirming(true)}>
            {busy === 'run' ? 'Optimizing…' : 'Optimize now'}
          </button>
        </div>
        {confirming && (
          <div className="confirm" role="alertdialog" aria-label="Confirm optimize">
            <span>Run the optimization now? Records due for retention are deleted and similar memories are merged (originals stay readable by id).</span>
            <div className="actions">
              <button className="btn btn-primary" data-testid="optimize-confirm" onClick={() => void go(false)}>Yes, optimize</button>
              <button className="btn btn-ghost" data-testid="optimize-cancel" onClick={() => setConfirming(false)}>Cancel</button>
            </div>
          </div>
        )}
        {error && <ErrorBox error={error} what="the optimization" />}
      </Card>
      {run ? <Result run={run} busy={busy === 'run'} /> : !busy && <Empty>No preview yet. Press “Preview (dry run)” to see what an optimization would do.</Empty>}
    </div>
  );
}

function Result({ run, busy }: { run: NonNullable<Run>; busy: boolean }) {
  const r = run.report;
  const saved = savedBytes(r);
  const before = r.tiers.reduce((s, t) => s + t.before, 0);
  return (
    <section className="card span-all" data-testid="optimize-result" data-run={busy ? 'running' : run.kind}>
      <header className="card-head">
        <h2>{run.kind === 'preview' ? 'Preview: what an optimization would do' : 'Optimized'}</h2>
        <span className="muted small">{fmtTime(r.at)} · took {fmtMs(r.tookMs)}</span>
      </header>
      <div className="metric-row">
        <Metric k="savedBytes" label={saved < 0 ? `${run.kind === 'preview' ? 'would add' : 'added'} (net: moves write archive blocks)` : run.kind === 'preview' ? 'would save' : 'saved'}
          value={saved} text={fmtBytes(Math.abs(saved))}
          hint={before > 0 ? `of ${fmtBytes(before)} across the tiers` : undefined} tone={saved > 0 ? 'good' : undefined} />
        {r.postgres.saved != null && <Metric k="postgresSavedBytes" label="Postgres reclaimed" value={r.postgres.saved} text={fmtBytes(r.postgres.saved)} hint={`of ${fmtBytes(r.postgres.before)}`} />}
      </div>
      <div className="table-scroll">
        <table className="table">
          <thead><tr><th>Tier</th><th className="num">Before</th><th className="num">After</th><th className="num">Saved</th></tr></thead>
          <tbody>
            {r.tiers.map((t) => (
              <tr key={t.tier} data-tier={t.tier}>
                <td>{t.tier}</td><td className="num">{fmtBytes(t.before)}</td><td className="num">{fmtBytes(t.after)}</td>
                <td className={`num ${t.saved > 0 ? 'tone-good' : ''}`} data-metric={`savedBytes.${t.tier}`} data-value={t.saved}>{fmtBytes(t.saved)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Steps</h3>
      <ul className="steps">
        {r.steps.map((s) => (
          <li key={s.step} className={`step step-${s.status.replace(/\s+/g, '-')}`}>
            <span className="badge">{s.status}</span>
            <b>{s.step}</b>
            <span className="step-summary">{s.summary}</span>
            <span className="muted small">{fmtInt(s.actions)} actions · {fmtInt(s.records)} records{s.bytesBefore !== s.bytesAfter ? ` · ${fmtBytes(s.bytesBefore)} → ${fmtBytes(s.bytesAfter)}` : ''}</span>
            {s.refused.length > 0 && <span className="tone-bad small">{s.refused.length} refused (see GET /v1/dead-letters)</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}
