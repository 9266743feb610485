import { useEffect, useState, type FormEvent } from 'react';
import { useAgentMemory } from '@farmbrain/react';
import { AGENT_READS, api, type RecallHit, type RecallResult } from '../api';
import { fmtAge, fmtMs, fmtNum } from '../format';
import { useFetch } from '../useFetch';

/**
 * The memory search in the header: recall as a chosen agent (the hook's `recall`,
 * POST /v1/agents/:agentId/recall) and show each hit with its score parts.
 */
export function SearchBox({ preferred }: { preferred: string | null }) {
  const agents = useFetch('agent-list', () => api.agents(500));
  const ids = agents.data?.items.map((a) => a.agentId).sort() ?? [];
  const [agentId, setAgentId] = useState('');
  const [text, setText] = useState('');
  const [search, setSearch] = useState<{ agentId: string; query: string; n: number } | null>(null);

  useEffect(() => { if (preferred) setAgentId(preferred); }, [preferred]);
  const chosen = agentId || ids[0] || '';

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!chosen || !text.trim()) return;
    setSearch((s) => ({ agentId: chosen, query: text.trim(), n: (s?.n ?? 0) + 1 }));
  };

  return (
    <div className="search">
      <form className="search-form" onSubmit={submit} role="search">
        <select data-testid="search-agent" aria-label="Recall as agent" value={chosen} onChange={(e) => setAgentId(e.target.value)} disabled={ids.length === 0}>
          {ids.length === 0 && <option value="">{agents.error ? 'no agents (gateway?)' : agents.loading ? 'loading…' : 'no agent yet'}</option>}
          {ids.map((id) => <option key={id} value={id}>{id}</option>)}
        </select>
        <input data-testid="search-input" type="search" placeholder="Search memories…" aria-label="Search memories" value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} />
        <button data-testid="search-submit" className="btn btn-small" type="submit" disabled={!chosen || !text.trim()}>Recall</button>
      </form>
      {search && <Results key={`${search.agentId}:${search.n}`} {...search} onClose={() => setSearch(null)} />}
    </div>
  );
}

function Results({ agentId, query, onClose }: { agentId: string; query: string; onClose: () => void }) {
  const m = useAgentMemory(agentId, AGENT_READS);
  const [res, setRes] = useState<RecallResult>();
  const [err, setErr] = useState<string>();
  const { recall } = m;
  useEffect(() => {
    let live = true;
    recall({ query, k: 10 }).then(
      (r) => { if (live) setRes(r); },
      (e: unknown) => { if (live) setErr(e instanceof Error ? e.message : (e as { message?: string })?.message ?? String(e)); },
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  return (
    <div className="search-results" data-testid="search-results" role="region" aria-label="Recall results">
      <header className="card-head">
        <h3>Recall as <b>{agentId}</b>: “{query}”</h3>
        <div className="card-actions">
          {res && <span className="muted small">{res.hits.length} hit{res.hits.length === 1 ? '' : 's'} · {fmtMs(res.tookMs)}{res.embeddingModel ? ` · ${res.embeddingModel}` : ' · text only'}</span>}
          <button className="btn btn-small btn-ghost" onClick={onClose} aria-label="Close results">✕</button>
        </div>
      </header>
      {!res && !err && <div className="state state-loading"><span className="spinner" aria-hidden="true" />Recalling…</div>}
      {err && <div className="state state-error">The recall failed: {err}. Recall needs the gateway; check it is running.</div>}
      {res?.warnings?.map((w) => <div key={w} className="state state-warn">{w}</div>)}
      {res && res.hits.length === 0 && <div className="state state-empty">Nothing recalled. Try other words, or another agent (an agent sees its own, its team's and fleet memories).</div>}
      {res && res.hits.length > 0 && (
        <ol className="hits">
          {res.hits.map((h) => <Hit key={h.memory.memoryId} h={h} />)}
        </ol>
      )}
    </div>
  );
}

function Hit({ h }: { h: RecallHit }) {
  const p = h.parts;
  return (
    <li className="hit" data-testid="search-hit" data-memory-id={h.memory.memoryId} data-score={h.score}>
      <div className="hit-head">
        <span className="badge">{h.memory.kind}</span>
        <span className="badge">{h.tier}</span>
        {h.memory.scope !== 'agent' && <span className="badge">{h.memory.scope}</span>}
        <span className="hit-score" title="sum over rankings of weight / (60 + rank)">score {fmtNum(h.score, 4)}</span>
        <code className="muted small">{h.memory.memoryId} v{h.memory.version}</code>
      </div>
      <div className="hit-text">{h.memory.text}</div>
      <dl className="parts">
        <div><dt>vector</dt><dd>{p.vector ? `${fmtNum(p.vector.similarity, 3)} · #${p.vector.rank}` : '—'}</dd></div>
        <div><dt>text</dt><dd>{p.text ? `${fmtNum(p.text.relevance, 3)} · #${p.text.rank}` : '—'}</dd></div>
        <div><dt>recency</dt><dd>{fmtAge(p.recency.ageMs)} · #{p.recency.rank}</dd></div>
        <div><dt>importance</dt><dd>{fmtNum(p.importance.value, 2)} · #{p.importance.rank}</dd></div>
        {p.decay && <div><dt>decay</dt><dd>×{fmtNum(p.decay.factor, 2)} ({fmtNum(p.decay.ageDays, 1)} d)</dd></div>}
      </dl>
    </li>
  );
}
