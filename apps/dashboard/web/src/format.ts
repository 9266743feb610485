/** Numbers formatted for people. Every formatter shows '—' for a missing value. */
const DASH = '—';
const nfCache = new Map<string, Intl.NumberFormat>();
const nf = (max: number, min = 0) => {
  const k = `${max}:${min}`;
  let f = nfCache.get(k);
  if (!f) nfCache.set(k, (f = new Intl.NumberFormat(undefined, { maximumFractionDigits: max, minimumFractionDigits: min })));
  return f;
};
const n0 = nf(0), n1 = nf(1), n2 = nf(2);
const usd = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD', maximumFractionDigits: 2, minimumFractionDigits: 2 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

const ok = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export const fmtInt = (v: number | null | undefined) => (ok(v) ? (Math.abs(v) >= 100_000 ? compact.format(v) : n0.format(v)) : DASH);
export const fmtNum = (v: number | null | undefined, digits = 1) => (ok(v) ? nf(digits).format(v) : DASH);
export const fmtRate = (v: number | null | undefined) => (ok(v) ? (v >= 100 ? n0 : v >= 10 ? n1 : n2).format(v) : DASH);
/** A ratio in [0, 1] as a percentage. */
export const fmtPct = (v: number | null | undefined, digits = 1) => (ok(v) ? `${nf(digits).format(v * 100)} %` : DASH);
export const fmtUsd = (v: number | null | undefined) => (ok(v) ? usd.format(v) : DASH);
export const fmtSignedUsd = (v: number | null | undefined) => (ok(v) ? (v > 0 ? '+' : '') + usd.format(v) : DASH);

export function fmtBytes(v: number | null | undefined): string {
  if (!ok(v)) return DASH;
  const a = Math.abs(v);
  if (a < 1024) return `${n0.format(v)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024, i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${(Math.abs(x) >= 100 ? n0 : Math.abs(x) >= 10 ? n1 : n2).format(x)} ${units[i]}`;
}

export function fmtMs(v: number | null | undefined): string {
  if (!ok(v)) return DASH;
  if (v < 1) return `${n2.format(v)} ms`;
  if (v < 1000) return `${(v < 10 ? n1 : n0).format(v)} ms`;
  if (v < 60_000) return `${n2.format(v / 1000)} s`;
  return `${n1.format(v / 60_000)} min`;
}

export function fmtAge(ms: number | null | undefined): string {
  if (!ok(ms)) return DASH;
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${n1.format(s / 3600)} h`;
  return `${n1.format(s / 86400)} d`;
}

const toMs = (t: number | string | null | undefined): number | null =>
  t === null || t === undefined ? null : typeof t === 'number' ? t : Date.parse(t);

export function fmtTime(t: number | string | null | undefined): string {
  const ms = toMs(t);
  if (ms === null || !Number.isFinite(ms)) return DASH;
  const d = new Date(ms);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay ? d.toLocaleTimeString(undefined, { hour12: false }) : d.toLocaleString(undefined, { hour12: false, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtAgo(t: number | string | null | undefined, now = Date.now()): string {
  const ms = toMs(t);
  if (ms === null || !Number.isFinite(ms)) return DASH;
  return `${fmtAge(now - ms)} ago`;
}

export const shortId = (id: string) => (id.length > 12 ? `${id.slice(0, 4)}…${id.slice(-6)}` : id);

/** The raw number as a data-value attribute ('' for null: the API had none). */
export const raw = (v: number | null | undefined): string => (ok(v) ? String(v) : '');
