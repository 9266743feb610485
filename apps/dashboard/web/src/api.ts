/**
 * Typed fetchers for the gateway endpoints the dashboard reads (same origin).
 * Shapes follow the gateway's response schemas (services/gateway/src/routes/*.ts
 * and http/responses.ts); analytics shapes are those of @farmbrain/analytics.
 * Every failure becomes an ApiError carrying the gateway's { error: { code, message } },
 * so the UI can show the message, which says what to do.
 */

/** The page sizes every useAgentMemory() of the dashboard asks for (one shared client: same reads). */
export const AGENT_READS = { decisions: 20, memories: 50 } as const;

export type Tier = 'hot' | 'warm' | 'cold' | 'archive';
export const TIERS: readonly Tier[] = ['hot', 'warm', 'cold', 'archive'];
export type Window = '15m' | '1h' | '24h';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init?.body ? { 'content-type': 'application/json' } : {}), ...init?.headers } });
  } catch {
    throw new ApiError(0, 'GATEWAY_UNREACHABLE', 'The gateway did not answer. Is `npm start` running?');
  }
  const text = await res.text();
  let body: unknown = undefined;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? (text.slice(0, 200) || `${res.status} ${res.statusText}`));
  }
  return body as T;
}

const qs = (o: Record<string, string | number | boolean | undefined | null>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};
const enc = encodeURIComponent;
const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

// ---------- analytics (@farmbrain/analytics) ----------

export type Verdict = 'improving' | 'flat' | 'worsening' | 'insufficient';

/** @farmbrain/analytics Indicators (formulas: packages/analytics/README.md). */
export interface Indicators {
  window: { from: number; to: number; grain: string };
  decisionQuality: {
    /** 0..1: mean of calibration and pnlEfficiency. */
    score: number | null; calibration: number | null; brier: number | null; scored: number; decisions: number; pnl: number;
    pnlPerDecision: number | null; pnlEfficiency: number | null;
  };
  learningProgress: {
    verdict: Verdict; winRateBefore: number | null; winRateAfter: number | null;
    /** winRateAfter − winRateBefore, with its 90 % band. */
    delta: number | null; band: { lo: number; hi: number } | null; slopePerHour: number | null;
    brierBefore: number | null; brierAfter: number | null; samplesBefore: number; samplesAfter: number; minSamples: number;
  };
  memoryEfficiency: {
    hotHitRatio: number | null; recalls: number; recallHits: number; usefulRecalls: number; usefulRecallRatio: number | null;
    tierBytes: number | null; bytesPerUsefulRecall: number | null; citedWinShare: number | null; citedScored: number;
  };
}

export interface Latency { p50: number | null; p95: number | null; p99: number | null; n: number }

export interface AlertView {
  alertId: string; rule: string; metric: string; state: 'firing' | 'resolved'; severity: string; subject: string; agentId: string;
  value: number; threshold: number; message: string; firedAt: number; resolvedAt: number | null;
  delivery: { status: string; attempts: number } | null; streamSeq: number;
}

export interface ThroughputPoint { t: number; decisions: number; trades: number; recalls: number; memoryWrites: number }

export interface Overview {
  generatedAt: number;
  window: Window;
  throughput: { eventsPerMinute: number; decisionsPerMinute: number; series: ThroughputPoint[] };
  lag: { total: number; projections: { name: string; stream?: string; pending: number }[] };
  indicators: Indicators;
  recallLatency: Latency;
  /** The firing alerts, newest first (at most 100 listed). */
  alerts: AlertView[];
  /** How many alerts fire, all of them. */
  activeAlerts: number;
  agents: number;
}

export interface AgentStats {
  agentId: string; name: string; team: string; decisions: number; trades: number; winRate: number | null; pnl: number;
  brier: number | null; recalls: number; hotHitRatio: number | null; lastEventAt: number | null;
}

export interface TierFigure { bytes: number; records: number }
export interface TierPoint { t: number; tiers: Record<Tier, TierFigure> }

export interface TierMetrics {
  at: string;
  tiers: Record<Tier | 'deleted', TierFigure>;
  agents: { agentId: string; tiers: Partial<Record<Tier | 'deleted', TierFigure>> }[];
  recallHits: { hot: number; warm: number; hotRatio: number | null };
  moves: { policy: string; moves: number; records: number; bytesBefore: number; bytesAfter: number }[];
  consolidation: { canonical: number; merged: number };
}

/** compactionRatio: bytes after / bytes before over every move applied (smaller is better); null before any. */
export interface Utilization { from: number; to: number; series: TierPoint[]; current: TierMetrics; compactionRatio: number | null }

export interface HealthBucket { label: string; lo: number; hi: number | null; count: number }
/** GET /v1/agents/:agentId/memory-health: live memories bucketed by age, access and importance. */
export interface MemoryHealth {
  agentId: string;
  at: number;
  totals: { memories: number; consolidated: number; expired: number; hot: number; forgotten: number; accesses: number; meanImportance: number | null };
  age: HealthBucket[];
  access: HealthBucket[];
  importance: HealthBucket[];
}

// ---------- existing gateway API ----------

export interface Page<T> { items: T[]; nextCursor: string | null }

export interface Decision {
  decisionId: string; agentId: string; occurredAt: string; symbol: string; action: string; size: number; confidence: number;
  rationale: string; memoryIds: string[]; recallIds: string[]; correlationId: string; tier?: string;
}

export interface Position {
  positionId: string; agentId: string; symbol: string; status: 'open' | 'closed'; qty: number; avgPrice: number; fees: number;
  openedAt: string; closedAt: string | null; realizedPnl: number | null; exitPrice: number | null; decisionIds: string[];
  tradeCount: number; holdingMs: number | null;
}

export interface DecisionContext {
  decision: { decisionId: string; agentId: string; symbol: string; action: string; occurredAt: number; rationale: string; memoryIds: string[]; recallIds: string[]; correlationId: string };
  recalls: {
    recallId: string; occurredAt: number; query: string; filters: Record<string, unknown>; k: number;
    hits: { memoryId: string; version: number; score: number; tier: string; memory: Record<string, unknown> | null }[];
  }[];
  citedMemories: { memoryId: string; version: number; memory: Record<string, unknown>; currentVersion: number | null; changedSince: boolean; forgottenSince: boolean }[];
  warnings?: string[];
}

export interface Erasure {
  eventId: string; memoryId: string; agentId: string; operator: string; reason: string; erasedAt: number;
  scrubbed: boolean; versions: number; released: string[];
}

export type OptimizeStepStatus = 'planned' | 'done' | 'nothing to do' | 'skipped' | 'not available';
export interface OptimizeReport {
  dryRun: boolean;
  at: string;
  tookMs: number;
  steps: { step: string; status: OptimizeStepStatus; summary: string; actions: number; records: number; bytesBefore: number; bytesAfter: number; refused: { moveId: string; code: string; reason: string }[] }[];
  tiers: { tier: Tier; before: number; after: number; saved: number }[];
  postgres: { before: number; after: number | null; saved: number | null };
  consistencyToken: string | null;
  [k: string]: unknown;
}

// ---------- fetchers ----------

export interface AgentListItem { agentId: string; name: string; team: string; strategy: string; status: string; lastEventAt: string | null }

export const api = {
  agents: (limit = 500) => request<Page<AgentListItem>>(`/v1/agents${qs({ limit })}`),
  overview: (window: Window = '1h') => request<Overview>(`/v1/analytics/overview${qs({ window })}`),
  agentStats: (window: Window = '24h') => request<{ items: AgentStats[] }>(`/v1/analytics/agents${qs({ window })}`),
  indicators: (scope: 'agent' | 'team' | 'fleet', id: string, window: Window) =>
    request<Indicators>(`/v1/analytics/indicators${qs({ scope, id, window })}`),
  utilization: (from: number, to: number) => request<Utilization>(`/v1/analytics/utilization${qs({ from, to })}`),
  alerts: (state: 'firing' | 'all' = 'all', limit = 50) => request<{ items: AlertView[] }>(`/v1/alerts${qs({ state, limit })}`),
  memoryHealth: (agentId: string) => request<MemoryHealth>(`/v1/agents/${enc(agentId)}/memory-health`),
  decisions: (agentId: string, limit = 20) => request<Page<Decision>>(`/v1/agents/${enc(agentId)}/decisions${qs({ limit })}`),
  positions: (agentId: string, limit = 100) => request<Page<Position>>(`/v1/agents/${enc(agentId)}/positions${qs({ limit })}`),
  decisionContext: (agentId: string, decisionId: string) =>
    request<DecisionContext>(`/v1/agents/${enc(agentId)}/decisions/${enc(decisionId)}/context`),
  erasures: (limit = 50) => request<Page<Erasure>>(`/v1/erasures${qs({ limit })}`),
  metrics: () => request<TierMetrics>('/v1/lifecycle/metrics'),
  optimize: (dryRun: boolean) => request<OptimizeReport>('/v1/optimize', post(dryRun ? { dryRun: true } : {})),
};

// ---------- live feed (GET /v1/feed, Server-Sent Events) ----------

export interface FeedDecision {
  eventId: string; agentId: string; symbol: string; action: string; size: number; confidence: number;
  occurredAt: number; memoryIds: string[]; recallIds: string[]; streamSeq?: number;
}
export type FeedAlert = Partial<AlertView> & { alertId: string; eventId?: string };
/** The overview's live part (sent every ~2 s when changed), for the gateway's own window. */
export type FeedMetrics = Pick<Overview, 'generatedAt' | 'window' | 'throughput' | 'lag' | 'recallLatency' | 'indicators'>;
export const FEED_URL = '/v1/feed';

// ---------- recall: the contract's shapes (@farmbrain/contracts memoryApi.ts, through @farmbrain/react) ----------

export type { ScoreParts, RecallHit, RecallResponse as RecallResult } from '@farmbrain/react';
