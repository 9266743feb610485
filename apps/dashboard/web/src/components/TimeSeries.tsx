import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useThemeName } from '../theme';

export interface SeriesSpec {
  label: string;
  /** A CSS custom property holding the colour, e.g. '--c1'. */
  color: string;
  /** Fill under the line (stacked charts always fill). */
  fill?: boolean;
}

export interface TimeSeriesProps {
  /** x: epoch ms, then one array per series (same length; null for a gap). */
  x: readonly number[];
  ys: readonly (readonly (number | null)[])[];
  series: readonly SeriesSpec[];
  /** Formats a y value for the axis and the legend. */
  format?: (v: number) => string;
  /** Stack the series (cumulative areas), e.g. tier distribution. */
  stacked?: boolean;
  height?: number;
  testid: string;
  /** Said when there is no point to draw. */
  empty?: string;
  /** A fixed y range (default: from 0 to the data's max). */
  yRange?: [number, number];
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

function withAlpha(color: string, a: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1]!, 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

const hm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
const hms = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const md = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** 24-hour tick labels: seconds when ticks are closer than a minute, the date when they span days. */
function timeLabels(vals: number[]): string[] {
  const step = vals.length > 1 ? vals[1]! - vals[0]! : 60;
  return vals.map((v) => {
    if (v == null) return '';
    const d = new Date(v * 1000);
    if (step >= 86_400) return md.format(d);
    if (step < 60) return hms.format(d);
    return d.getHours() === 0 && d.getMinutes() === 0 ? `${md.format(d)}` : hm.format(d);
  });
}

/**
 * A uPlot time series: created once per (series set, theme), fed with setData on
 * every update (cheap appends for live data), resized with its container.
 * Colours come from the theme's CSS variables, so it follows the theme toggle.
 */
export function TimeSeries({ x, ys, series, format, stacked, height = 220, testid, empty = 'No data in this window yet.', yRange }: TimeSeriesProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useThemeName();
  const fmt = useRef(format);
  fmt.current = format;
  const shape = series.map((s) => `${s.label}:${s.color}:${s.fill ? 1 : 0}`).join('|') + (stacked ? ':stacked' : '') + height + (yRange ? yRange.join(',') : '');

  const data = useMemo<uPlot.AlignedData>(() => {
    const xs = x.map((t) => t / 1000);
    if (!stacked) return [xs, ...ys.map((y) => [...y])] as uPlot.AlignedData;
    const acc = xs.map(() => 0);
    const out: (number | null)[][] = [];
    // A moment where no series has a value stays a gap rather than a drop to zero.
    const gap = xs.map((_, i) => ys.every((y) => y[i] == null));
    for (const y of ys) {
      out.push(y.map((v, i) => (gap[i] ? null : (acc[i] = acc[i]! + (v ?? 0)))));
    }
    return [xs, ...out] as uPlot.AlignedData;
  }, [x, ys, stacked]);

  const rawYs = useRef(ys);
  rawYs.current = ys;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisStroke = cssVar('--muted');
    const grid = cssVar('--grid');
    const font = `11px ${getComputedStyle(document.body).fontFamily}`;
    const yfmt = (v: number) => (fmt.current ? fmt.current(v) : String(v));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => yRange ?? [Math.min(0, min), max > 0 ? max * 1.08 : 1] } },
      axes: [
        { stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font, space: 70, values: (_u, vals) => timeLabels(vals) },
        { stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, font, size: 64, values: (_u, vals) => vals.map((v) => (v == null ? '' : yfmt(v))) },
      ],
      series: [
        { value: (_u: uPlot, v: number | null) => (v == null ? '—' : hms.format(new Date(v * 1000))) },
        ...series.map((s, i) => {
          const c = cssVar(s.color);
          return {
            label: s.label,
            stroke: c,
            width: 1.6,
            fill: stacked || s.fill ? withAlpha(c, stacked ? 0.45 : 0.14) : undefined,
            points: { show: false },
            // The legend shows each series' own value, not the stacked sum.
            value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => {
              const v = idx == null ? null : rawYs.current[i]?.[idx];
              return v == null ? '—' : yfmt(v);
            },
          } satisfies uPlot.Series;
        }),
      ],
      // Stacked: each area fills down to the one below it.
      bands: stacked ? series.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })) : [],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, theme]);

  useEffect(() => { plot.current?.setData(data); }, [data]);

  return (
    <div className="chart" data-testid={testid} data-points={x.length}>
      <div ref={box} className="chart-canvas" />
      {x.length === 0 && <div className="chart-empty">{empty}</div>}
    </div>
  );
}
