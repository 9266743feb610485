import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useAgentMemory } from '@farmbrain/react';
import { AGENT_READS, api, type ApiError, type AgentStats, type Decision, type DecisionContext as Ctx, type MemoryHealth, type Window } from '../api';
import { useFeed } from '../feed';
import { fmtAgo, fmtInt, fmtNum, fmtPct, fmtSignedUsd, fmtTime, shortId } from '../format';
import { useFetch } from '../useFetch';
import { Bar, Card, Empty, ErrorBox, Loading, Metric } from '../components/ui';

const WINDOW: Window = '24h';
const REFRESH_MS = 3000;

export function Agents({ selected, onSelect }: { selected: string | null; onSelect: (id: string | null) => void }) {
  const feed = useFeed();
  const stats = useFetch('agents', () => api.agentStats(WINDOW), 20_000);
  // New decisions change the counts: read again, at most every 5 s.
  const { reload } = stats;
  const [lastReload, setLastReload] = useState(0);
  useEffect(() => {
    if (feed.decisions === 0 && feed.resets === 0) return;
    const wait = Math.max(0, lastReload + 5000 - Date.now());
    const h = setTimeout(() => { setLastReload(Date.now()); reload(); }, wait);
    return () => clearTimeout(h);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [feed.decisions, feed.resets]);

  const items = stats.data?.items;
  return (
    <div className="tab-body agents-layout">
      <Card title={`Agents · last ${WINDOW}`} className="span-all">
        {stats.error && <ErrorBox error={stats.error} what="the agents' figures" retry={stats.reload} />}
        {!items && !stats.error && <Loading what="agents" />}
        {items && items.length === 0 && <Empty>No agent has recorded anything yet. Start the demo fleet with <code>npm start</code>, or send events to <code>POST /v1/events</code>.</Empty>}
        {items && items.length > 0 && <AgentTable items={items} selected={selected} onSelect={onSelect} />}
      </Card>
      {selected ? <AgentDetail key={selected} agentId={selected} stats={items?.find((a) => a.agentId === selected)} onClose={() => onSelect(null)} />
        : items && items.length > 0 && <Empty>Select an agent to see its memory health, recent decisions and what they recalled.</Empty>}
    </div>
  );
}

function AgentTable({ items, selected, onSelect }: { items: AgentStats[]; selected: string | null; onSelect: (id: string) => void }) {
  const rows = useMemo(() => [...items].sort((a, b) => a.agentId.localeCompare(b.agentId)), [items]);
  return (
    <div className="table-scroll">
      <table className="table agents-table">
        <thead>
          <tr><th>Agent</th><th className="hide-sm">Team</th><th className="num">Decisions</th><th className="num hide-sm">Trades</th><th className="num">Win rate</th><th className="num">P&amp;L</th><th className="num hide-sm">Brier</th><th className="num hide-sm">Hot hits</th><th className="hide-sm">Last event</th></tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <tr key={a.agentId} data-testid="agent-row" data-agent-id={a.agentId} className={a.agentId === selected ? 'selected' : ''}
              onClick={() => onSelect(a.agentId)} tabIndex={0} onKeyDown={(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(a.agentId); } }}
              aria-selected={a.agentId === selected}>
              <td><b>{a.name || a.agentId}</b>{a.name && a.name !== a.agentId && <div className="muted small">{a.agentId}</div>}</td>
              <td className="hide-sm">{a.team || <span className="muted">—</span>}</td>
              <td className="num"><span data-metric="decisions" data-value={a.decisions}>{fmtInt(a.decisions)}</span></td>
              <td className="num hide-sm">{fmtInt(a.trades)}</td>
              <td className="num"><span data-metric="winRate" data-value={a.winRate ?? ''}>{fmtPct(a.winRate)}</span></td>
              <td className={`num ${a.pnl > 0 ? 'tone-good' : a.pnl < 0 ? 'tone-bad' : ''}`}><span data-metric="pnl" data-value={a.pnl}>{fmtSignedUsd(a.pnl)}</span></td>
              <td className="num hide-sm">{fmtNum(a.brier, 3)}</td>
              <td className="num hide-sm">{fmtPct(a.hotHitRatio, 0)}</td>
              <td className="hide-sm muted">{fmtAgo(a.lastEventAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AgentDetail({ agentId, stats, onClose }: { agentId: string; stats: AgentStats | undefined; onClose: () => void }) {
  const m = useAgentMemory(agentId, AGENT_READS);
  const feed = useFeed();
  const health = useFetch(`health:${agentId}`, () => api.memoryHealth(agentId), 30_000);
  const positions = useFetch(`positions:${agentId}`, () => api.positions(agentId, 100), 30_000);
  const [decisionId, setDecisionId] = useState<string | null>(null);

  // A live decision of this agent: refresh its lists (at most every REFRESH_MS; a busy agent decides many times a second).
  const latest = feed.items[0];
  const { refresh } = m;
  const lastRefresh = useRef(0);
  const mine = latest?.kind === 'decision' && latest.decision?.agentId === agentId ? latest.id : undefined;
  useEffect(() => {
    if (!mine) return;
    const h = setTimeout(() => { lastRefresh.current = Date.now(); void refresh().catch(() => undefined); }, Math.max(0, lastRefresh.current + REFRESH_MS - Date.now()));
    return () => clearTimeout(h);
  }, [mine, refresh]);

  const pnlByDecision = useMemo(() => {
    const out = new Map<string, { pnl: number | null; status: string }>();
    for (const p of positions.data?.items ?? []) for (const d of p.decisionIds) out.set(d, { pnl: p.realizedPnl, status: p.status });
    return out;
  }, [positions.data]);

  const decisions = (m.decisions ?? []) as unknown as Decision[];
  const pending = m.pending.length;
  const refreshAll = () => { void m.refresh().catch(() => undefined); health.reload(); positions.reload(); };

  return (
    <section className="card agent-detail span-all" data-testid="agent-detail" data-status={m.status} data-agent-id={agentId}>
      <header className="card-head">
        <h2>{stats?.name || agentId} <span className="muted small">{stats?.team ? `team ${stats.team}` : ''}</span></h2>
        <div className="card-actions">
          <span className={`pill pill-${m.status}`} title={m.stale ? 'shown from the last known copy' : 'fresh from the gateway'}>{m.status}{m.stale ? ' · cached' : ''}</span>
          <button className="btn btn-small" data-testid="agent-refresh" onClick={refreshAll}>Refresh</button>
          <button className="btn btn-small btn-ghost" onClick={onClose} aria-label="Close agent">✕</button>
        </div>
      </header>
      {m.status === 'offline' && <div className="state state-warn">The gateway is not answering: showing the last known data. Notes you add are queued and sent, once each, when it is back.</div>}
      {m.error && m.status !== 'offline' && <div className="state state-error">{m.error.message}</div>}
      <div className="detail-grid">
        <div className="detail-col">
          <h3>Memory health</h3>
          <HealthView health={health.data} error={health.error} loading={health.loading} reload={health.reload} />
          <h3>Add a note</h3>
          <RememberForm onRemember={(text) => m.remember({ text, kind: 'observation' })} pending={pending} />
        </div>
        <div className="detail-col detail-wide">
          <h3>Recent decisions</h3>
          {m.status === 'loading' && decisions.length === 0 && <Loading what="decisions" />}
          {m.status !== 'loading' && decisions.length === 0 && <Empty>No decision recorded yet.</Empty>}
          {decisions.length > 0 && (
            <div className="table-scroll">
              <table className="table decisions-table">
                <thead><tr><th>When</th><th>Action</th><th>Symbol</th><th className="num">Conf.</th><th className="num">P&amp;L</th><th className="num hide-sm">Recalls</th><th className="num hide-sm">Cites</th></tr></thead>
                <tbody>
                  {decisions.map((d) => {
                    const o = pnlByDecision.get(d.decisionId);
                    return (
                      <tr key={d.decisionId} data-testid="decision-row" data-decision-id={d.decisionId} className={d.decisionId === decisionId ? 'selected' : ''}
                        onClick={() => setDecisionId(d.decisionId)} tabIndex={0} onKeyDown={(e) => { if (e.key === 'Enter') setDecisionId(d.decisionId); }}>
                        <td className="muted">{fmtTime(d.occurredAt)}</td>
                        <td><span className={`badge act-${d.action}`}>{d.action}</span></td>
                        <td>{d.symbol}</td>
                        <td className="num">{fmtPct(d.confidence, 0)}</td>
                        <td className={`num ${o?.pnl != null ? (o.pnl > 0 ? 'tone-good' : o.pnl < 0 ? 'tone-bad' : '') : ''}`}>{o ? (o.pnl != null ? fmtSignedUsd(o.pnl) : <span className="muted">{o.status}</span>) : <span className="muted">—</span>}</td>
                        <td className="num hide-sm">{d.recallIds?.length ?? 0}</td>
                        <td className="num hide-sm">{d.memoryIds?.length ?? 0}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </div>
      {decisionId && <DecisionContextView agentId={agentId} decisionId={decisionId} onClose={() => setDecisionId(null)} />}
    </section>
  );
}

function RememberForm({ onRemember, pending }: { onRemember: (text: string) => Promise<{ eventId: string; queued: boolean }>; pending: number }) {
  const [text, setText] = useState('');
  const [msg, setMsg] = useState<string>('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    setText('');
    onRemember(t).then((r) => setMsg(r.queued ? 'Queued: it is sent when the gateway is back.' : 'Stored.'), (err: unknown) => setMsg(`Not stored: ${err instanceof Error ? err.message : String(err)}`));
  };
  return (
    <form className="remember" onSubmit={submit}>
      <input data-testid="remember-input" value={text} onChange={(e) => setText(e.target.value)} placeholder="Something this agent should remember" maxLength={4000} />
      <button className="btn" data-testid="remember-submit" type="submit">Remember</button>
      <div className="muted small">
        <span data-metric="pendingWrites" data-value={pending}>{pending === 0 ? 'No write waiting' : `${pending} write${pending === 1 ? '' : 's'} waiting for the gateway`}</span>
        {msg && <> · {msg}</>}
      </div>
    </form>
  );
}

const AXES: { key: 'age' | 'access' | 'importance'; title: string }[] = [
  { key: 'age', title: 'Age (since created)' },
  { key: 'access', title: 'Times recalled' },
  { key: 'importance', title: 'Importance' },
];

function HealthView({ health, error, loading, reload }: { health: MemoryHealth | undefined; error: ApiError | undefined; loading: boolean; reload: () => void }) {
  if (!health) return error ? <ErrorBox error={error} what="memory health" retry={reload} /> : loading ? <Loading what="memory health" /> : null;
  const t = health.totals;
  return (
    <div className="health">
      <div className="metric-row">
        <Metric k="memories" label="live memories" value={t.memories} text={fmtInt(t.memories)} />
        <Metric k="memoriesHot" label="in hot tier" value={t.hot} text={fmtInt(t.hot)} />
        <Metric k="meanImportance" label="mean importance" value={t.meanImportance} text={fmtNum(t.meanImportance, 2)} />
      </div>
      <div className="muted small">
        {fmtInt(t.accesses)} recalls returned them · {fmtInt(t.consolidated)} merged into consolidated · {fmtInt(t.expired)} past expiry · {fmtInt(t.forgotten)} forgotten
      </div>
      {error && <div className="muted small">Could not refresh ({error.message}); showing the last answer.</div>}
      {t.memories === 0 && <Empty>This agent has no live memory yet.</Empty>}
      {t.memories > 0 && AXES.map((ax) => {
        const bs = health[ax.key];
        const max = Math.max(1, ...bs.map((b) => b.count));
        return (
          <div key={ax.key} className="health-axis" data-axis={ax.key}>
            <div className="health-title">{ax.title}</div>
            {bs.map((b) => (
              <div key={b.label} className="health-row"><span className="health-label">{b.label}</span><Bar value={b.count} max={max} /><span className="num">{fmtInt(b.count)}</span></div>
            ))}
          </div>
        );
      })}
    </div>
  );
}

const text = (m: Record<string, unknown> | null | undefined) => (m && typeof m.text === 'string' ? m.text : null);

function DecisionContextView({ agentId, decisionId, onClose }: { agentId: string; decisionId: string; onClose: () => void }) {
  const ctx = useFetch<Ctx>(`ctx:${agentId}:${decisionId}`, () => api.decisionContext(agentId, decisionId));
  const c = ctx.data;
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => { box.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }); }, [decisionId, c !== undefined]);
  const cited = new Set(c?.decision.memoryIds ?? []);
  return (
    <div className="decision-context" data-testid="decision-context" data-decision-id={decisionId} ref={box}>
      <header className="card-head">
        <h3>Decision {shortId(decisionId)}{c && <> · <span className={`badge act-${c.decision.action}`}>{c.decision.action}</span> {c.decision.symbol} <span className="muted small">{fmtTime(c.decision.occurredAt)}</span></>}</h3>
        <button className="btn btn-small btn-ghost" onClick={onClose} aria-label="Close decision">✕</button>
      </header>
      {ctx.error && <ErrorBox error={ctx.error} what="the decision's context" retry={ctx.reload} />}
      {!c && !ctx.error && <Loading what="what the decision recalled and cited" />}
      {c && (
        <>
          {c.decision.rationale && <p className="rationale">“{c.decision.rationale}”</p>}
          {c.warnings?.map((w) => <div key={w} className="state state-warn">{w}</div>)}
          <div className="context-grid">
            <div>
              <h4>Cited memories <span className="muted">({c.citedMemories.length})</span></h4>
              {c.citedMemories.length === 0 && <div className="muted small">The decision cites no memory.</div>}
              <ul className="mem-list">
                {c.citedMemories.map((cm) => (
                  <li key={cm.memoryId} data-memory-id={cm.memoryId}>
                    <div className="mem-head"><code>{cm.memoryId}</code> <span className="badge">v{cm.version}</span>
                      {cm.forgottenSince ? <span className="badge sev-warning">forgotten since</span> : cm.changedSince ? <span className="badge sev-info">now v{cm.currentVersion}</span> : <span className="muted small">unchanged</span>}</div>
                    <div className="mem-text">{text(cm.memory) ?? <span className="muted">(no text)</span>}</div>
                  </li>
                ))}
              </ul>
            </div>
            <div>
              <h4>Recalls <span className="muted">({c.recalls.length})</span></h4>
              {c.recalls.length === 0 && <div className="muted small">No recall before this decision.</div>}
              {c.recalls.map((r) => (
                <div key={r.recallId} className="recall" data-recall-id={r.recallId}>
                  <div className="mem-head"><span className="muted small">{fmtTime(r.occurredAt)}</span> “{r.query || '(vector only)'}” <span className="muted small">k={r.k} · {r.hits.length} hit{r.hits.length === 1 ? '' : 's'}</span></div>
                  <ol className="mem-list">
                    {r.hits.map((h) => (
                      <li key={h.memoryId} data-memory-id={h.memoryId}>
                        <div className="mem-head"><code>{h.memoryId}</code> <span className="badge">v{h.version}</span> <span className="badge">{h.tier}</span>{cited.has(h.memoryId) && <span className="badge act-buy">cited</span>} <span className="muted small">score {fmtNum(h.score, 4)}</span></div>
                        <div className="mem-text">{text(h.memory) ?? <span className="muted">(not readable now)</span>}</div>
                      </li>
                    ))}
                  </ol>
                </div>
              ))}
            </div>
          </div>
        </>
      )}
    </div>
  );
}
