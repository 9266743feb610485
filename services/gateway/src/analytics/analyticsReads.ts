import type { JetStreamManager } from '@nats-io/jetstream';
import {
  bucketOf, GRAIN_MS, grainFor, readAgentSummaries, readAlerts, readCalibration, readIndicators, readRecallLatency, readRollups, SAMPLED_TIERS,
  type AgentSummary, type AlertView, type Calibration, type Grain, type Indicators, type LatencySummary, type RollupBucket, type RollupQuery, type SampledTier,
  type Scope, type TierPoint,
} from '@farmbrain/analytics';
import { FarmbrainError, type Names } from '@farmbrain/contracts';
import { sqlstateOf, type Pool } from '@farmbrain/platform';
import { readConsumerLags } from '@farmbrain/projection';
import type { TierMetrics } from '@farmbrain/lifecycle';

/** The analytics schema has no tables: the analytics service never ran in this namespace. */
export class AnalyticsUnavailableError extends FarmbrainError {
  constructor(schema: string, options?: ErrorOptions) {
    super('ANALYTICS_UNAVAILABLE', `analytics are not available: the schema ${schema} has no rollups yet. Start the analytics service `
      + '(farmbrain start runs it; alone: npm start -w @farmbrain/analytics-service), then retry', options);
    this.name = 'AnalyticsUnavailableError';
  }
}

/** The windows the overview, indicators and agents reads accept, by name. */
export const WINDOWS = { '15m': 15 * 60_000, '1h': 3_600_000, '6h': 6 * 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

export interface ThroughputPoint { t: number; decisions: number; trades: number; recalls: number; memoryWrites: number }
export interface Throughput {
  /** The whole buckets counted: [from, to), the last one the current bucket. */
  from: number;
  to: number;
  /** Events in those buckets per minute of the span they cover (to − from). */
  eventsPerMinute: number;
  decisionsPerMinute: number;
  series: ThroughputPoint[];
}
export interface Lag { total: number; projections: { name: string; stream: 'ingress' | 'events'; pending: number }[] }

/** What the feed's `metrics` events carry (the live part of the overview). */
export interface MetricsSnapshot {
  window: WindowName;
  throughput: Throughput;
  lag: Lag;
  recallLatency: LatencySummary;
  indicators: Indicators;
}

export interface Overview extends MetricsSnapshot {
  generatedAt: number;
  /** Firing now, newest first: at most OVERVIEW_ALERTS of them (activeAlerts counts them all). */
  alerts: AlertView[];
  /** How many alerts fire now. */
  activeAlerts: number;
  agents: number;
}

/** The firing alerts the overview lists. */
export const OVERVIEW_ALERTS = 100;
/** Most points of a utilization series: longer ranges are downsampled (the last sample of each stepMs bucket). */
export const MAX_UTILIZATION_POINTS = 500;
/** Tier samples are taken every minute: the finest step. */
const SAMPLE_MS = 60_000;

/** The step of a utilization series over `spanMs`: whole minutes, so that the epoch-aligned buckets meeting the range are at most MAX_UTILIZATION_POINTS. */
export const utilizationStep = (spanMs: number): number =>
  Math.max(SAMPLE_MS, Math.ceil(spanMs / (MAX_UTILIZATION_POINTS - 1) / SAMPLE_MS) * SAMPLE_MS);

/**
 * The whole buckets of a window ending at `now`, as readIndicators reads it: at grainFor(window), the last
 * one the bucket holding `now`, as many as the window holds (windows are whole multiples of their grain).
 */
export function windowBuckets(windowMs: number, now: number): { grain: Grain; from: number; to: number } {
  const grain = grainFor(windowMs);
  const g = GRAIN_MS[grain];
  const to = bucketOf(now, grain) + g;
  return { grain, from: to - Math.max(g, Math.ceil(windowMs / g) * g), to };
}

export interface Utilization {
  /** The last sample of each stepMs bucket (epoch-aligned) in the range, oldest first: at most MAX_UTILIZATION_POINTS. */
  series: TierPoint[];
  stepMs: number;
  /** GET /v1/lifecycle/metrics, now. */
  current: TierMetrics;
  /** Bytes after / bytes before, over every move applied (compression into cold and archive blocks); null before any. */
  compactionRatio: number | null;
}

export interface AnalyticsReadsDeps {
  /** search_path = the analytics schema (analyticsSchema(n)). */
  pool: Pool;
  schema: string;
  jsm: () => Promise<JetStreamManager>;
  names: Pick<Names, 'ingressStream' | 'eventsStream'>;
  /** The live tiering version's tier metrics (GET /v1/lifecycle/metrics). */
  tierMetrics: () => Promise<TierMetrics>;
  now?: () => number;
}

/** Events the rollups count, per bucket: what `eventsPerMinute` adds up. */
const eventsOf = (b: RollupBucket): number => b.decisions.total + b.trades + b.closes + b.memoryWrites + b.recalls + b.consolidations;

/**
 * The gateway's analytics reads: @farmbrain/analytics over the analytics schema (H1's rollups, H2's alerts),
 * JetStream consumer lag, and the live tiering version's tier metrics. A missing schema or table (the
 * analytics service never ran) is ANALYTICS_UNAVAILABLE (503).
 */
export class AnalyticsReads {
  readonly #now: () => number;

  constructor(private readonly d: AnalyticsReadsDeps) {
    this.#now = d.now ?? Date.now;
  }

  async #read<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      const s = sqlstateOf(err);
      if (s === '42P01' || s === '3F000') throw new AnalyticsUnavailableError(this.d.schema, { cause: err });
      throw err;
    }
  }

  rollups(q: RollupQuery): Promise<RollupBucket[]> {
    return this.#read(() => readRollups(this.d.pool, q));
  }

  calibration(q: Omit<RollupQuery, 'grain'>): Promise<Calibration> {
    return this.#read(() => readCalibration(this.d.pool, q));
  }

  indicators(q: { scope: Scope; id: string; window: WindowName }): Promise<Indicators> {
    return this.#read(() => readIndicators(this.d.pool, { scope: q.scope, id: q.id, windowMs: WINDOWS[q.window], now: this.#now() }));
  }

  agents(window: WindowName): Promise<AgentSummary[]> {
    const to = this.#now();
    return this.#read(() => readAgentSummaries(this.d.pool, { from: to - WINDOWS[window], to }));
  }

  alerts(q: { state: 'firing' | 'all'; limit: number }): Promise<AlertView[]> {
    return this.#read(() => readAlerts(this.d.pool, q));
  }

  async utilization(q: { from: number; to: number }): Promise<Utilization> {
    const stepMs = utilizationStep(q.to - q.from);
    const [series, current] = await Promise.all([this.#read(() => this.#tierSeries(q, stepMs)), this.d.tierMetrics()]);
    let before = 0;
    let after = 0;
    for (const m of current.moves) {
      before += m.bytesBefore;
      after += m.bytesAfter;
    }
    return { series, stepMs, current, compactionRatio: before > 0 ? after / before : null };
  }

  /** The last tier sample of each epoch-aligned `stepMs` bucket in [from, to), oldest first. */
  async #tierSeries(q: { from: number; to: number }, stepMs: number): Promise<TierPoint[]> {
    const r = await this.d.pool.query<{ t: Date; tier: SampledTier; bytes: string; records: string }>(
      `SELECT t, tier, bytes, records FROM tier_samples
        WHERE t IN (SELECT max(t) FROM tier_samples WHERE t >= $1 AND t < $2 GROUP BY floor(extract(epoch FROM t) * 1000 / $3::bigint))
        ORDER BY t, tier`,
      [new Date(q.from), new Date(q.to), stepMs],
    );
    const points = new Map<number, TierPoint>();
    for (const row of r.rows) {
      const t = row.t.getTime();
      let p = points.get(t);
      if (!p) points.set(t, (p = { t, tiers: Object.fromEntries(SAMPLED_TIERS.map((x) => [x, { bytes: 0, records: 0 }])) as TierPoint['tiers'] }));
      if (row.tier in p.tiers) p.tiers[row.tier] = { bytes: Number(row.bytes), records: Number(row.records) };
    }
    return [...points.values()];
  }

  /** How many alerts fire now (the overview lists at most OVERVIEW_ALERTS). */
  activeAlerts(): Promise<number> {
    return this.#read(async () => Number((await this.d.pool.query<{ n: string }>("SELECT count(*)::bigint AS n FROM alerts WHERE state = 'firing'")).rows[0]?.n ?? 0));
  }

  /** Pending messages per consumer group (ingest on the ingress stream, each projection version on the events stream). */
  async lag(): Promise<Lag> {
    let groups: Awaited<ReturnType<typeof readConsumerLags>>;
    try {
      groups = await readConsumerLags(await this.d.jsm(), this.d.names);
    } catch (err) {
      throw new FarmbrainError('NATS_UNAVAILABLE', `consumer lag could not be read from JetStream (${(err as Error)?.message ?? String(err)}); retry shortly (GET /readyz says whether NATS is down)`, { cause: err });
    }
    return { total: groups.reduce((s, g) => s + g.pending, 0), projections: groups.map((g) => ({ name: g.group, stream: g.stream, pending: g.pending })) };
  }

  /**
   * Fleet throughput over the window ending now: per bucket of grainFor(window), and per minute, over the whole
   * buckets of windowBuckets (the same as the indicators), divided by the span they cover.
   */
  async throughput(window: WindowName, now = this.#now()): Promise<Throughput> {
    const { grain, from, to } = windowBuckets(WINDOWS[window], now);
    // Aligned bounds: readRollups' "overlapping [from, to)" is exactly the buckets starting in [from, to).
    const buckets = await this.rollups({ scope: 'fleet', id: '', grain, from, to });
    const minutes = (to - from) / 60_000;
    return {
      from, to,
      eventsPerMinute: buckets.reduce((s, b) => s + eventsOf(b), 0) / minutes,
      decisionsPerMinute: buckets.reduce((s, b) => s + b.decisions.total, 0) / minutes,
      series: buckets.map((b) => ({ t: b.bucket, decisions: b.decisions.total, trades: b.trades, recalls: b.recalls, memoryWrites: b.memoryWrites })),
    };
  }

  /** Fleet recall latency over the buckets of the throughput series (the histograms summed, then read). */
  recallLatency(window: WindowName, now = this.#now()): Promise<LatencySummary> {
    const { from, to } = windowBuckets(WINDOWS[window], now);
    return this.#read(() => readRecallLatency(this.d.pool, { from, to, scope: 'fleet', id: '' }));
  }

  /** The live part of the overview (the feed's `metrics` events). */
  async snapshot(window: WindowName = '1h', now = this.#now()): Promise<MetricsSnapshot> {
    const [throughput, lag, recallLatency, indicators] = await Promise.all([
      this.throughput(window, now), this.lag(), this.recallLatency(window, now),
      this.#read(() => readIndicators(this.d.pool, { scope: 'fleet', id: '', windowMs: WINDOWS[window], now })),
    ]);
    return { window, throughput, lag, recallLatency, indicators };
  }

  async overview(window: WindowName): Promise<Overview> {
    const now = this.#now();
    const [snap, alerts, activeAlerts, agents] = await Promise.all([
      this.snapshot(window, now), this.alerts({ state: 'firing', limit: OVERVIEW_ALERTS }), this.activeAlerts(), this.agents(window),
    ]);
    return { generatedAt: now, ...snap, alerts, activeAlerts, agents: agents.length };
  }
}
