import { useMemo, useState } from 'react';
import { api, TIERS, type Tier, type Utilization as Util } from '../api';
import { fmtBytes, fmtInt, fmtNum, fmtPct, fmtTime } from '../format';
import { useFetch } from '../useFetch';
import { Bar, Card, Empty, ErrorBox, Loading, Metric } from '../components/ui';
import { TimeSeries } from '../components/TimeSeries';

const RANGES = [{ label: '1h', ms: 3_600_000 }, { label: '24h', ms: 86_400_000 }, { label: '7d', ms: 7 * 86_400_000 }] as const;
const TIER_COLOR: Record<Tier, string> = { hot: '--t-hot', warm: '--t-warm', cold: '--t-cold', archive: '--t-archive' };

export function Utilization() {
  const [range, setRange] = useState<(typeof RANGES)[number]>(RANGES[1]);
  const util = useFetch(`util:${range.label}`, () => { const to = Date.now(); return api.utilization(to - range.ms, to); }, 15_000);
  const erasures = useFetch('erasures', () => api.erasures(50), 60_000);
  const u = util.data;
  return (
    <div className="tab-body">
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Range">
          {RANGES.map((r) => <button key={r.label} className={r === range ? 'on' : ''} aria-pressed={r === range} onClick={() => setRange(r)}>{r.label}</button>)}
        </div>
        {u && <span className="muted small">measured {fmtTime(u.current.at)}</span>}
      </div>
      {util.error && <ErrorBox error={util.error} what="memory utilization" retry={util.reload} />}
      {!u && !util.error && <Loading what="memory utilization" />}
      {u && <UtilizationView u={u} />}
      <Card title="Deletion and erasure log" className="span-all">
        {erasures.error && <ErrorBox error={erasures.error} what="the erasure log" retry={erasures.reload} />}
        {!erasures.data && !erasures.error && <Loading what="the erasure log" />}
        {erasures.data && (
          <div className="table-scroll">
            <table className="table" data-testid="erasure-log">
              <thead><tr><th>When</th><th>Agent</th><th>Memory</th><th>Operator</th><th>Reason</th><th className="num">Versions scrubbed</th><th>Note</th></tr></thead>
              <tbody>
                {erasures.data.items.length === 0 && <tr><td colSpan={7} className="muted wrap">No memory has been erased. Erasures (POST /v1/agents/:agentId/memories/:memoryId/erase) are listed here: who, when and why, never the content.</td></tr>}
                {erasures.data.items.map((e) => (
                  <tr key={e.eventId} data-event-id={e.eventId}>
                    <td className="muted">{fmtTime(e.erasedAt)}</td>
                    <td>{e.agentId}</td>
                    <td><code>{e.memoryId}</code></td>
                    <td>{e.operator}</td>
                    <td className="wrap">{e.reason}</td>
                    <td className="num">{fmtInt(e.versions)}</td>
                    <td className="muted small">{!e.scrubbed ? 'erased before' : e.released.length ? `${e.released.length} original${e.released.length === 1 ? '' : 's'} back in recall` : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

function UtilizationView({ u }: { u: Util }) {
  const cur = u.current;
  const total = TIERS.reduce((s, t) => s + (cur.tiers[t]?.bytes ?? 0), 0);
  const x = useMemo(() => u.series.map((p) => p.t), [u.series]);
  const bytes = useMemo(() => TIERS.map((t) => u.series.map((p) => p.tiers[t]?.bytes ?? null)), [u.series]);
  const share = useMemo(() => TIERS.map((t) => u.series.map((p) => {
    const sum = TIERS.reduce((s, k) => s + (p.tiers[k]?.bytes ?? 0), 0);
    return sum > 0 ? (p.tiers[t]?.bytes ?? 0) / sum : null;
  })), [u.series]);
  const records = useMemo(() => TIERS.map((t) => u.series.map((p) => p.tiers[t]?.records ?? null)), [u.series]);
  const series = TIERS.map((t) => ({ label: t, color: TIER_COLOR[t] }));
  const agents = useMemo(() => cur.agents
    .map((a) => ({ agentId: a.agentId, bytes: TIERS.reduce((s, t) => s + (a.tiers[t]?.bytes ?? 0), 0), tiers: a.tiers }))
    .sort((a, b) => b.bytes - a.bytes).slice(0, 12), [cur.agents]);
  const noSamples = 'No tier sample yet: the analytics service samples tier sizes every minute.';

  return (
    <>
      <div className="grid metrics-grid">
        <Card title="Bytes per tier, now">
          <div className="metric-row tiers-row">
            {TIERS.map((t) => (
              <Metric key={t} k={`tierBytes.${t}`} label={t} value={cur.tiers[t]?.bytes ?? 0} text={fmtBytes(cur.tiers[t]?.bytes ?? 0)}
                hint={`${fmtInt(cur.tiers[t]?.records ?? 0)} records · ${fmtPct(total ? (cur.tiers[t]?.bytes ?? 0) / total : null, 0)}`} />
            ))}
          </div>
          <div className="stackbar" aria-hidden="true">
            {TIERS.map((t) => <span key={t} style={{ flexGrow: cur.tiers[t]?.bytes ?? 0, background: `var(${TIER_COLOR[t]})` }} title={t} />)}
          </div>
        </Card>
        <Card title="Compaction and consolidation">
          <div className="metric-row">
            <Metric k="compactionRatio" label="compaction ratio" value={u.compactionRatio} text={u.compactionRatio == null ? '—' : fmtNum(u.compactionRatio, 3)}
              hint={u.compactionRatio == null ? 'no move applied yet' : u.compactionRatio > 0 ? `bytes after ÷ before over every move: ${fmtNum(1 / u.compactionRatio, 1)}× smaller` : 'bytes after ÷ before over every move'} />
            <Metric k="consolidatedMerged" label="memories merged" value={cur.consolidation.merged} text={fmtInt(cur.consolidation.merged)} hint={`into ${fmtInt(cur.consolidation.canonical)} canonical`} />
            <Metric k="deletedRecords" label="deleted by retention" value={cur.tiers.deleted?.records ?? 0} text={fmtInt(cur.tiers.deleted?.records ?? 0)} hint="records" />
          </div>
          <ul className="kv">
            <li><span>recall hits from hot / warm</span><b>{fmtInt(cur.recallHits.hot)} / {fmtInt(cur.recallHits.warm)} ({fmtPct(cur.recallHits.hotRatio, 0)})</b></li>
            {cur.moves.map((m) => <li key={m.policy}><span>{m.policy}</span><b>{fmtInt(m.records)} records · {fmtBytes(m.bytesBefore)} → {fmtBytes(m.bytesAfter)}</b></li>)}
          </ul>
        </Card>
      </div>
      <div className="grid charts-grid">
        <Card title="Tier sizes over time">
          <TimeSeries testid="chart-tier-bytes" x={x} ys={bytes} series={series} format={fmtBytes} empty={noSamples} />
        </Card>
        <Card title="Tier distribution (share of bytes)">
          <TimeSeries testid="chart-tier-share" x={x} ys={share} series={series} stacked yRange={[0, 1]} format={(v) => fmtPct(v, 0)} empty={noSamples} />
        </Card>
        <Card title="Records per tier">
          <TimeSeries testid="chart-tier-records" x={x} ys={records} series={series} format={(v) => fmtInt(v)} empty={noSamples} />
        </Card>
        <Card title="Largest agents">
          {agents.length === 0 ? <Empty>No agent holds data yet.</Empty> : (
            <ul className="kv agent-bytes">
              {agents.map((a) => (
                <li key={a.agentId}><span>{a.agentId}</span><Bar value={a.bytes} max={agents[0]!.bytes} tone="--c1" /><b>{fmtBytes(a.bytes)}</b></li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </>
  );
}
