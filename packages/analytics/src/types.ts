/** Who a rollup is about: one agent, one team (the agent's team at the event), or the whole fleet (id ''). */
export type Scope = 'agent' | 'team' | 'fleet';
export const ANALYTICS_SCOPES = ['agent', 'team', 'fleet'] as const satisfies readonly Scope[];

/** A bucket's width. */
export type Grain = 'minute' | 'hour' | 'day';
export const GRAINS = ['minute', 'hour', 'day'] as const satisfies readonly Grain[];

/** Buckets overlapping [from, to) (epoch ms) of one scope at one grain. */
export interface RollupQuery {
  scope: Scope;
  id: string;
  grain: Grain;
  from: number;
  to: number;
}

export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  n: number;
}

/** One bucket's figures, summed over partitions; ratios are null when their denominator is 0. */
export interface RollupBucket {
  /** Epoch ms of the bucket's UTC start. */
  bucket: number;
  decisions: { buy: number; sell: number; hold: number; close: number; total: number };
  trades: number;
  closes: number;
  wins: number;
  winRate: number | null;
  pnl: number;
  pnlPerDecision: number | null;
  scored: number;
  /** Mean Brier score of the decisions scored in this bucket (by the bucket of their position_closed). */
  brier: number | null;
  memoryWrites: number;
  recalls: number;
  recallHits: number;
  hotHits: number;
  hotHitRatio: number | null;
  usefulRecalls: number;
  consolidations: number;
  merged: number;
  latency: LatencySummary;
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  n: number;
  wins: number;
  meanConfidence: number | null;
  winRate: number | null;
}

/** The reliability curve of scored decisions: 10 confidence bins. */
export interface Calibration {
  n: number;
  brier: number | null;
  bins: CalibrationBin[];
}

export type LearningVerdict = 'improving' | 'flat' | 'worsening' | 'insufficient';

/** Formulas: packages/analytics/README.md. */
export interface Indicators {
  window: { from: number; to: number; grain: Grain };
  decisionQuality: {
    /** 0..1: mean of calibration and pnlEfficiency (whichever exist); null when neither does. */
    score: number | null;
    /** 1 − brier/0.25, clipped to [0, 1]. */
    calibration: number | null;
    brier: number | null;
    scored: number;
    decisions: number;
    pnl: number;
    pnlPerDecision: number | null;
    /** (1 + pnl / Σ|pnl|) / 2: 1 all gains, 0 all losses. */
    pnlEfficiency: number | null;
  };
  learningProgress: {
    verdict: LearningVerdict;
    /** Win rate of decisions scored in the first and second half of the window. */
    winRateBefore: number | null;
    winRateAfter: number | null;
    /** winRateAfter − winRateBefore. */
    delta: number | null;
    /** 90 % band of delta (Newcombe's hybrid score interval); null when a half has no sample. */
    band: { lo: number; hi: number } | null;
    /** delta per hour of the window's half. */
    slopePerHour: number | null;
    brierBefore: number | null;
    brierAfter: number | null;
    samplesBefore: number;
    samplesAfter: number;
    /** Scored decisions each half needs before a verdict other than 'insufficient'. */
    minSamples: number;
  };
  memoryEfficiency: {
    /** Recall hits served from the hot tier / all recall hits. */
    hotHitRatio: number | null;
    recalls: number;
    recallHits: number;
    usefulRecalls: number;
    /** Useful recalls / recalls. */
    usefulRecallRatio: number | null;
    tierBytes: number | null;
    bytesPerUsefulRecall: number | null;
    /** Of the scored decisions that cited memories, the share that won. */
    citedWinShare: number | null;
    citedScored: number;
  };
}

export interface AgentSummary {
  agentId: string;
  name: string;
  team: string;
  decisions: number;
  trades: number;
  winRate: number | null;
  pnl: number;
  brier: number | null;
  recalls: number;
  hotHitRatio: number | null;
  lastEventAt: number | null;
}

export type SampledTier = 'hot' | 'warm' | 'cold' | 'archive';
export const SAMPLED_TIERS = ['hot', 'warm', 'cold', 'archive'] as const satisfies readonly SampledTier[];

export interface TierPoint {
  t: number;
  tiers: Record<SampledTier, { bytes: number; records: number }>;
}
