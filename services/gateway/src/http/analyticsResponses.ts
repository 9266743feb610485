/**
 * Response schemas of the analytics routes (routes/analytics.ts): the shapes of @farmbrain/analytics' reads
 * (packages/analytics/src/types.ts, alerts/readAlerts.ts) and of what the gateway composes from them.
 * The serializer writes exactly these fields.
 */
import { Type } from 'typebox';
import { GRAINS, SAMPLED_TIERS } from '@farmbrain/analytics';
import { TierMetricsBody } from '../routes/optimize.js';
import { Enum, Nullable } from './schemas.js';

const Num = (description?: string) => Type.Number(description ? { description } : {});
const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });
const Ratio = (description?: string) => Nullable(Type.Number(description ? { description } : {}));
const Ms = (description = 'epoch milliseconds') => Type.Number({ description });

export const LatencySummary = Type.Object({
  p50: Ratio('ms'), p95: Ratio('ms'), p99: Ratio('ms'), n: Count('recalls measured'),
}, { description: 'recall latency (ms) read from log-scale histograms; null without recalls' });

export const RollupBucket = Type.Object({
  bucket: Ms('UTC start of the bucket'),
  decisions: Type.Object({ buy: Count(), sell: Count(), hold: Count(), close: Count(), total: Count() }),
  trades: Count(), closes: Count('positions closed'), wins: Count('closes with realized P&L > 0'), winRate: Ratio('wins / closes'),
  pnl: Num('realized P&L of the closes'), pnlPerDecision: Ratio('pnl / decisions'),
  scored: Count('decisions scored by a close in this bucket'), brier: Ratio('mean Brier score of the scored decisions'),
  memoryWrites: Count(), recalls: Count(), recallHits: Count(), hotHits: Count(), hotHitRatio: Ratio('hotHits / recallHits'),
  usefulRecalls: Count('recalls cited by a decision'), consolidations: Count(), merged: Count(),
  latency: LatencySummary,
});

export const RollupsBody = Type.Object({
  scope: Enum(['agent', 'team', 'fleet'] as const), id: Type.String(), grain: Enum(GRAINS), from: Ms(), to: Ms(),
  items: Type.Array(RollupBucket, { description: 'buckets overlapping [from, to) that have data, oldest first' }),
});

export const Calibration = Type.Object({
  n: Count('scored decisions'), brier: Ratio('mean Brier score'),
  bins: Type.Array(Type.Object({
    lo: Num(), hi: Num(), n: Count(), wins: Count(), meanConfidence: Ratio(), winRate: Ratio(),
  }), { description: 'the reliability curve: 10 confidence bins' }),
});

const Band = Nullable(Type.Object({ lo: Num(), hi: Num() }));
export const Indicators = Type.Object({
  window: Type.Object({ from: Ms(), to: Ms(), grain: Enum(GRAINS) }),
  decisionQuality: Type.Object({
    score: Ratio('0..1: mean of calibration and pnlEfficiency'), calibration: Ratio('1 − brier/0.25, clipped to [0, 1]'), brier: Ratio(),
    scored: Count(), decisions: Count(), pnl: Num(), pnlPerDecision: Ratio(), pnlEfficiency: Ratio('(1 + pnl / Σ|pnl|) / 2'),
  }),
  learningProgress: Type.Object({
    verdict: Enum(['improving', 'flat', 'worsening', 'insufficient'] as const),
    winRateBefore: Ratio(), winRateAfter: Ratio(), delta: Ratio('winRateAfter − winRateBefore'), band: Band,
    slopePerHour: Ratio(), brierBefore: Ratio(), brierAfter: Ratio(), samplesBefore: Count(), samplesAfter: Count(), minSamples: Count(),
  }),
  memoryEfficiency: Type.Object({
    hotHitRatio: Ratio(), recalls: Count(), recallHits: Count(), usefulRecalls: Count(), usefulRecallRatio: Ratio(),
    tierBytes: Ratio('bytes held, all tiers (latest sample)'), bytesPerUsefulRecall: Ratio(), citedWinShare: Ratio(), citedScored: Count(),
  }),
}, { description: 'formulas: packages/analytics/README.md' });

export const AlertView = Type.Object({
  alertId: Type.String(), rule: Type.String(), metric: Type.String(), state: Enum(['firing', 'resolved'] as const), severity: Type.String(),
  subject: Type.String(), agentId: Type.String({ description: "the agent it is about, or '_fleet'" }), value: Num(), threshold: Num(), message: Type.String(),
  firedAt: Ms(), resolvedAt: Nullable(Ms()),
  delivery: Nullable(Type.Object({ status: Type.String(), attempts: Count(), reason: Type.Optional(Type.String({ description: 'why it was skipped, or the last error of a failed or retrying delivery' })) })),
  streamSeq: Count('canonical stream sequence of its latest transition'),
});
export const AlertsBody = Type.Object({ items: Type.Array(AlertView) });

export const AgentSummaryRow = Type.Object({
  agentId: Type.String(), name: Type.String(), team: Type.String(), decisions: Count(), trades: Count(), winRate: Ratio(), pnl: Num(),
  brier: Ratio(), recalls: Count(), hotHitRatio: Ratio(), lastEventAt: Nullable(Ms()),
});
export const AgentSummariesBody = Type.Object({ window: Type.String(), items: Type.Array(AgentSummaryRow, { description: 'most active first' }) });

const Throughput = Type.Object({
  from: Ms('start of the first bucket counted: the window is read as whole buckets of its grain, the last one the bucket holding now'),
  to: Ms('end of the last bucket counted (exclusive)'),
  eventsPerMinute: Num('decisions, trades, closes, memory writes, recalls and consolidations in the buckets counted, per minute of the span they cover (to − from)'),
  decisionsPerMinute: Num('decisions in the buckets counted, per minute of to − from'),
  series: Type.Array(Type.Object({ t: Ms('bucket start'), decisions: Count(), trades: Count(), recalls: Count(), memoryWrites: Count() })),
});
const Lag = Type.Object({
  total: Count('pending messages over every consumer group'),
  projections: Type.Array(Type.Object({ name: Type.String({ description: 'consumer group (ingest, tiering_v1, analytics_v1, archive, …)' }), stream: Enum(['ingress', 'events'] as const), pending: Count() })),
});
export const SnapshotProps = {
  window: Type.String(), throughput: Throughput, lag: Lag, recallLatency: LatencySummary, indicators: Indicators,
};
export const MetricsSnapshot = Type.Object({ generatedAt: Ms(), ...SnapshotProps });
export const Overview = Type.Object({
  generatedAt: Ms(), ...SnapshotProps,
  alerts: Type.Array(AlertView, { description: 'firing now, newest first: at most 100 (activeAlerts counts them all)' }),
  activeAlerts: Count('alerts firing now, all of them'),
  agents: Count('agents analytics has seen'),
});

const Figure = Type.Object({ bytes: Count(), records: Count() });
export const TierPoint = Type.Object({
  t: Ms('when sampled'),
  tiers: Type.Object(Object.fromEntries(SAMPLED_TIERS.map((t) => [t, Figure])) as Record<(typeof SAMPLED_TIERS)[number], typeof Figure>),
});
export const Utilization = Type.Object({
  from: Ms(), to: Ms(),
  series: Type.Array(TierPoint, {
    description: 'tier sizes (sampled every minute by the analytics service), downsampled to at most 500 points: the last sample of each stepMs bucket (epoch-aligned) in [from, to), oldest first',
  }),
  stepMs: Count('width of the buckets the series was downsampled to: whole minutes, at least 60000'),
  current: TierMetricsBody,
  compactionRatio: Ratio('bytes after / bytes before over every move applied (smaller is better); null before any'),
});

const HealthBucket = Type.Object({ label: Type.String(), lo: Num(), hi: Nullable(Num()), count: Count() });
export const MemoryHealth = Type.Object({
  agentId: Type.String(), at: Ms(),
  totals: Type.Object({
    memories: Count('live (not forgotten): what the buckets count'), consolidated: Count('live, replaced in recall by a consolidated memory'),
    expired: Count('live, past expiry'), hot: Count('live, in the hot tier'), forgotten: Count(), accesses: Count('sum of access counts'),
    meanImportance: Ratio(),
  }),
  age: Type.Array(HealthBucket, { description: 'days since creation: <1d, 1-7d, 7-30d, >30d' }),
  access: Type.Array(HealthBucket, { description: 'times recalled: 0, 1-4, 5-19, 20+' }),
  importance: Type.Array(HealthBucket, { description: '<0.25, 0.25-0.5, 0.5-0.75, ≥0.75' }),
});
