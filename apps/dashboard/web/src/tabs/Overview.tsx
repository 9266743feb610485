import { useEffect, useMemo, useRef, useState } from 'react';
import { api, type AlertView, type Indicators, type Overview as OverviewBody, type Window } from '../api';
import { useFeed } from '../feed';
import { fmtAgo, fmtTime, fmtBytes, fmtInt, fmtMs, fmtNum, fmtPct, fmtRate, fmtSignedUsd } from '../format';
import { useFetch } from '../useFetch';
import { Card, ErrorBox, Loading, Metric } from '../components/ui';
import { raw } from '../format';
import { TimeSeries } from '../components/TimeSeries';
import { LiveFeed } from '../components/LiveFeed';

const WINDOWS: Window[] = ['15m', '1h', '24h'];
const LIVE_POINTS = 180;

const VERDICT_TEXT: Record<string, { text: string; tone: 'good' | 'bad' | 'warn' | undefined }> = {
  improving: { text: 'Improving', tone: 'good' },
  flat: { text: 'Flat', tone: undefined },
  worsening: { text: 'Worsening', tone: 'bad' },
  insufficient: { text: 'Not enough data', tone: 'warn' },
};

export function Overview({ window, setWindow }: { window: Window; setWindow: (w: Window) => void }) {
  const feed = useFeed();
  const ov = useFetch(`overview:${window}`, () => api.overview(window), 15_000);
  // A new alert changes the firing list: read it again.
  const { reload } = ov;
  // A new alert, or a feed that skipped something (gap/reset): read the overview again.
  useEffect(() => { if (feed.alerts > 0 || feed.resets > 0) reload(); }, [feed.alerts, feed.resets, reload]);

  // The live part of the overview comes with every `metrics` event (for the gateway's window; merged when it is
  // the one shown); the rest (alerts, agent count) from the last read.
  const live = feed.metrics?.data;
  const base = ov.data;
  const fresh = live && base && live.window === window && live.generatedAt >= base.generatedAt ? live : undefined;
  const merged: OverviewBody | undefined = base && (fresh ? {
    ...base, generatedAt: fresh.generatedAt, throughput: fresh.throughput, lag: fresh.lag, recallLatency: fresh.recallLatency, indicators: fresh.indicators,
  } : base);

  // Live events/min, appended on every metrics event (the chart only appends).
  const liveSeries = useRef<{ x: number[]; events: number[]; decisions: number[] }>({ x: [], events: [], decisions: [] });
  const [liveTick, setLiveTick] = useState(0);
  useEffect(() => {
    const tp = feed.metrics?.data.throughput;
    if (!feed.metrics || !tp) return;
    const s = liveSeries.current;
    s.x = [...s.x, feed.metrics.at].slice(-LIVE_POINTS);
    s.events = [...s.events, tp.eventsPerMinute ?? 0].slice(-LIVE_POINTS);
    s.decisions = [...s.decisions, tp.decisionsPerMinute ?? 0].slice(-LIVE_POINTS);
    setLiveTick((t) => t + 1);
  }, [feed.metrics]);

  return (
    <div className="tab-body">
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Window">
          {WINDOWS.map((w) => (
            <button key={w} className={w === window ? 'on' : ''} aria-pressed={w === window} onClick={() => setWindow(w)}>{w}</button>
          ))}
        </div>
        {merged && <span className="muted small">{fresh ? 'live' : 'as of'} {fmtTime(merged.generatedAt)}</span>}
      </div>
      {ov.error && <ErrorBox error={ov.error} what="the fleet overview" retry={ov.reload} />}
      {!merged && !ov.error && <Loading what="the fleet overview" />}
      {merged && <OverviewBodyView o={merged} liveX={liveSeries.current.x} liveEvents={liveSeries.current.events} liveDecisions={liveSeries.current.decisions} liveTick={liveTick} />}
      <Card title="Live feed" className="span-all">
        <LiveFeed />
      </Card>
    </div>
  );
}

function OverviewBodyView({ o, liveX, liveEvents, liveDecisions, liveTick }: { o: OverviewBody; liveX: number[]; liveEvents: number[]; liveDecisions: number[]; liveTick: number }) {
  const tp = o.throughput;
  // The bucket still filling (it ends after generatedAt) would draw as a drop: leave it out of the chart.
  const series = useMemo(() => {
    const all = tp.series;
    const step = all.length > 1 ? all[all.length - 1]!.t - all[all.length - 2]!.t : 60_000;
    const last = all[all.length - 1];
    return last && last.t + step > o.generatedAt ? all.slice(0, -1) : all;
  }, [tp.series, o.generatedAt]);
  const x = useMemo(() => series.map((p) => p.t), [series]);
  const ys = useMemo(() => [series.map((p) => p.decisions), series.map((p) => p.trades), series.map((p) => p.recalls), series.map((p) => p.memoryWrites)], [series]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const liveYs = useMemo(() => [liveEvents, liveDecisions], [liveTick]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const liveXs = useMemo(() => liveX, [liveTick]);
  const lat = o.recallLatency;

  return (
    <>
      <div className="grid metrics-grid">
        <Card title="Throughput">
          <div className="metric-row">
            <Metric k="eventsPerMinute" label="events / min" value={tp.eventsPerMinute} text={fmtRate(tp.eventsPerMinute)} />
            <Metric k="decisionsPerMinute" label="decisions / min" value={tp.decisionsPerMinute} text={fmtRate(tp.decisionsPerMinute)} />
            <Metric k="agents" label="agents" value={o.agents} text={fmtInt(o.agents)} />
          </div>
        </Card>
        <Card title="Lag">
          <div className="metric-row">
            <Metric k="lagTotal" label="events pending" value={o.lag.total} text={fmtInt(o.lag.total)} tone={o.lag.total > 1000 ? 'warn' : undefined}
              hint={o.lag.total === 0 ? 'every projection is caught up' : 'across projections'} />
          </div>
          {o.lag.projections.length > 0 && (
            <ul className="kv">
              {o.lag.projections.map((p) => <li key={p.name}><span>{p.name}</span><b>{fmtInt(p.pending)}</b></li>)}
            </ul>
          )}
        </Card>
        <Card title="Recall latency">
          <div className="metric-row">
            <Metric k="recallP50" label="p50" value={lat.p50} text={fmtMs(lat.p50)} />
            <Metric k="recallP95" label="p95" value={lat.p95} text={fmtMs(lat.p95)} />
            <Metric k="recallP99" label="p99" value={lat.p99} text={fmtMs(lat.p99)} />
          </div>
          <div className="muted small">{lat.n ? `${fmtInt(lat.n)} recalls in the window` : 'no recall in this window'}</div>
        </Card>
        <Card title="Active alerts">
          <div className="metric-row">
            <Metric k="activeAlerts" label="firing" value={o.activeAlerts} text={fmtInt(o.activeAlerts)} tone={o.alerts.some((a) => a.severity === 'critical') ? 'bad' : o.activeAlerts ? 'warn' : 'good'} />
          </div>
          <AlertList alerts={o.alerts} />
        </Card>
      </div>
      <div className="grid indicators-grid">
        <DecisionQuality ind={o.indicators} />
        <LearningProgress ind={o.indicators} />
        <MemoryEfficiency ind={o.indicators} />
      </div>
      <div className="grid charts-grid">
        <Card title="Throughput per bucket">
          <TimeSeries testid="chart-throughput" x={x} ys={ys} format={(v) => fmtNum(v, 0)}
            series={[{ label: 'decisions', color: '--c1', fill: true }, { label: 'trades', color: '--c2' }, { label: 'recalls', color: '--c3' }, { label: 'memory writes', color: '--c4' }]}
            empty="No event in this window yet. Is the demo fleet running (npm start)?" />
        </Card>
        <Card title="Live rate">
          <TimeSeries testid="chart-live" x={liveXs} ys={liveYs} format={(v) => fmtRate(v)} height={220}
            series={[{ label: 'events / min', color: '--c1', fill: true }, { label: 'decisions / min', color: '--c2' }]}
            empty="Waiting for the first metrics update from the live feed…" />
        </Card>
      </div>
    </>
  );
}

function AlertList({ alerts }: { alerts: AlertView[] }) {
  if (!alerts.length) return <div className="muted small">Nothing is firing.</div>;
  return (
    <ul className="alerts">
      {alerts.map((a) => (
        <li key={a.alertId} className="alert" data-alert-id={a.alertId}>
          <span className={`badge sev-${a.severity}`}>{a.severity}</span>
          <span className="alert-msg">{a.message || `${a.rule}: ${a.metric} ${a.value} > ${a.threshold}`}</span>
          <span className="muted small">{a.subject || a.agentId} · {fmtAgo(a.firedAt)}</span>
        </li>
      ))}
    </ul>
  );
}

function DecisionQuality({ ind }: { ind: Indicators }) {
  const q = ind.decisionQuality;
  const score = q.score;
  return (
    <Card title="Decision quality">
      <div className="metric-row">
        <Metric k="decisionQuality" label="score (0–1)" value={score} text={fmtNum(score, 2)} tone={score === null ? undefined : score >= 0.6 ? 'good' : score < 0.4 ? 'bad' : undefined} />
      </div>
      <ul className="kv">
        <li><span>calibration (1 − Brier/0.25)</span><b>{fmtNum(q.calibration, 2)}</b></li>
        <li><span>P&amp;L efficiency</span><b>{fmtNum(q.pnlEfficiency, 2)}</b></li>
        <li><span>Brier score</span><b>{fmtNum(q.brier, 3)}</b></li>
        <li><span>P&amp;L per decision</span><b>{fmtSignedUsd(q.pnlPerDecision)}</b></li>
        <li><span>scored / all decisions</span><b>{fmtInt(q.scored)} / {fmtInt(q.decisions)}</b></li>
      </ul>
    </Card>
  );
}

function LearningProgress({ ind }: { ind: Indicators }) {
  const l = ind.learningProgress;
  const verdict = VERDICT_TEXT[l.verdict] ?? { text: l.verdict, tone: undefined };
  const pp = (v: number | null) => (v === null ? '—' : `${v >= 0 ? '+' : ''}${fmtNum(v * 100, 1)} pp`);
  return (
    <Card title="Learning progress">
      <div className="metric-row">
        <div className="metric">
          <div className="metric-label">verdict · win-rate change</div>
          <div className={`metric-value${verdict.tone ? ` tone-${verdict.tone}` : ''}`} data-metric="learningProgress" data-value={raw(l.delta)} data-verdict={l.verdict}>
            {verdict.text}{l.delta !== null && <span className="metric-sub"> {pp(l.delta)}</span>}
          </div>
        </div>
      </div>
      <Band lo={l.band?.lo ?? null} hi={l.band?.hi ?? null} value={l.delta} />
      <ul className="kv">
        <li><span>90 % band of the change</span><b>{l.band ? `${pp(l.band.lo)} … ${pp(l.band.hi)}` : '—'}</b></li>
        <li><span>win rate, first → second half</span><b>{fmtPct(l.winRateBefore)} → {fmtPct(l.winRateAfter)}</b></li>
        <li><span>Brier, first → second half</span><b>{fmtNum(l.brierBefore, 3)} → {fmtNum(l.brierAfter, 3)}</b></li>
        <li><span>scored decisions per half</span><b>{fmtInt(l.samplesBefore)} / {fmtInt(l.samplesAfter)} <span className="muted">(need {fmtInt(l.minSamples)})</span></b></li>
      </ul>
      <div className="muted small">{l.verdict === 'insufficient' ? 'Too few scored decisions in a half of the window to tell.' : 'A band that spans zero means the change could be luck.'}</div>
    </Card>
  );
}

/** The confidence band of the trend around zero: where zero falls tells luck from learning. */
function Band({ lo, hi, value }: { lo: number | null; hi: number | null; value: number | null }) {
  if (lo === null || hi === null) return null;
  const ext = Math.max(Math.abs(lo), Math.abs(hi), Math.abs(value ?? 0), 1e-9) * 1.2;
  const pos = (v: number) => `${((v + ext) / (2 * ext)) * 100}%`;
  return (
    <div className="band" aria-label="confidence band">
      <span className="band-zero" style={{ left: pos(0) }} />
      <span className="band-range" style={{ left: pos(lo), width: `calc(${pos(hi)} - ${pos(lo)})` }} />
      {value !== null && <span className="band-point" style={{ left: pos(value) }} />}
    </div>
  );
}

function MemoryEfficiency({ ind }: { ind: Indicators }) {
  const m = ind.memoryEfficiency;
  const hot = m.hotHitRatio;
  return (
    <Card title="Memory efficiency">
      <div className="metric-row">
        <Metric k="hotHitRatio" label="hot-hit ratio" value={hot} text={fmtPct(hot)} />
      </div>
      <ul className="kv">
        <li><span>bytes per useful recall</span><b>{fmtBytes(m.bytesPerUsefulRecall)}</b></li>
        <li><span>useful recalls (cited by a decision)</span><b>{fmtInt(m.usefulRecalls)} of {fmtInt(m.recalls)} ({fmtPct(m.usefulRecallRatio, 0)})</b></li>
        <li><span>decisions citing memories that won</span><b>{fmtPct(m.citedWinShare)} <span className="muted">of {fmtInt(m.citedScored)}</span></b></li>
      </ul>
    </Card>
  );
}
