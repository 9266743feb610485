/**
 * Recall latency histogram with fixed log-scale bins, shared by every bucket so bins add up across buckets,
 * partitions and scopes. Bin 0 is [0, 1 ms); bin i (1 ≤ i < LATENCY_BINS − 1) is [2^((i−1)/2), 2^(i/2)) ms,
 * i.e. √2 wide; the last bin is everything from 2^((LATENCY_BINS−2)/2) ms (≈ 11.6 min) up.
 */
export const LATENCY_BINS = 42;

/** Lower edge of bin `i`, ms. */
export const latencyLo = (i: number): number => (i <= 0 ? 0 : 2 ** ((i - 1) / 2));
/** Upper edge of bin `i`, ms (Infinity for the last). */
export const latencyHi = (i: number): number => (i >= LATENCY_BINS - 1 ? Infinity : 2 ** (i / 2));

/** The bin of a latency (ms, ≥ 0). */
export function latencyBin(ms: number): number {
  if (!(ms >= 1)) return 0;
  const i = Math.floor(2 * Math.log2(ms)) + 1;
  // Float rounding at an edge: put the value where the edges say it belongs.
  const j = ms < latencyLo(i) ? i - 1 : ms >= latencyHi(i) ? i + 1 : i;
  return Math.min(Math.max(j, 1), LATENCY_BINS - 1);
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram (`counts[bin]`), by linear interpolation inside the bin holding
 * rank ⌈q·n⌉: the answer lies within that bin's edges (the lower edge for the open last bin). null when empty.
 */
export function quantile(counts: readonly number[], q: number): number | null {
  const n = counts.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0 && below + c >= rank) {
      const lo = latencyLo(i);
      const hi = latencyHi(i);
      if (!Number.isFinite(hi)) return lo;
      return lo + ((hi - lo) * (rank - below)) / c;
    }
    below += c;
  }
  return latencyLo(counts.length - 1);
}

export function latencySummary(counts: readonly number[]): { p50: number | null; p95: number | null; p99: number | null; n: number } {
  return { p50: quantile(counts, 0.5), p95: quantile(counts, 0.95), p99: quantile(counts, 0.99), n: counts.reduce((a, b) => a + b, 0) };
}
