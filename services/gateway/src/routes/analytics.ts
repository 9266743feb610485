import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ANALYTICS_SCOPES, GRAIN_MS, GRAINS, type Grain, type Scope } from '@farmbrain/analytics';
import { FarmbrainError, parseInstant } from '@farmbrain/contracts';
import * as A from '../http/analyticsResponses.js';
import { AgentParams, Enum, errorResponses, ID_PATTERN, IntQuery, TimeQuery } from '../http/schemas.js';
import { WINDOW_NAMES, type AnalyticsReads, type WindowName } from '../analytics/analyticsReads.js';
import type { MemoryHealthReader } from '../read/memoryHealth.js';

export type AnalyticsRoutesOptions = {
  analytics: Pick<AnalyticsReads, 'overview' | 'rollups' | 'calibration' | 'indicators' | 'agents' | 'utilization' | 'alerts'>;
  /** Read at request time (a proxy following the live tiering version). */
  health: Pick<MemoryHealthReader, 'memoryHealth'>;
};

/** Most buckets one rollups request may span (a minute grain over two weeks). */
export const MAX_BUCKETS = 20_160;
/** From/to when absent: `to` now, `from` this far back at each grain. */
const DEFAULT_SPAN: Record<Grain, number> = { minute: 3_600_000, hour: 86_400_000, day: 30 * 86_400_000 };
/** The span of calibration and utilization reads when `from` is absent. */
const DEFAULT_RANGE_MS = 86_400_000;

const Window = (dflt: WindowName) => Enum(WINDOW_NAMES, { default: dflt, description: `the window ending now: ${WINDOW_NAMES.join(', ')}` });
const ScopeQ = Enum(ANALYTICS_SCOPES, { description: "agent (id: an agent id), team (id: a team name) or fleet (no id)" });
const IdQ = Type.Optional(Type.String({ maxLength: 256, pattern: ID_PATTERN, description: "the agent id or team name; '' or absent for the fleet" }));
const Range = { from: Type.Optional(TimeQuery('inclusive')), to: Type.Optional(TimeQuery('exclusive; default now')) };

const invalid = (message: string) => new FarmbrainError('INVALID_REQUEST', message);

/** The scope's id, checked: agent and team need one, fleet has none. */
function scopeId(scope: Scope, id: string | undefined): string {
  const v = id ?? '';
  if (scope === 'fleet' && v !== '') throw invalid(`scope=fleet takes no id (got id=${JSON.stringify(v)}); use scope=agent or scope=team to name one`);
  if (scope !== 'fleet' && v === '') throw invalid(`scope=${scope} needs an id (${scope === 'agent' ? 'an agent id' : 'a team name'}): add &id=…`);
  return v;
}

/** [from, to) in epoch ms, checked: from before to; defaults to `span` back from now. */
function rangeOf(q: { from?: string | undefined; to?: string | undefined }, span: number, now = Date.now()): { from: number; to: number } {
  const to = parseInstant('to', q.to, 'INVALID_REQUEST')?.getTime() ?? now;
  const from = parseInstant('from', q.from, 'INVALID_REQUEST')?.getTime() ?? Math.max(0, to - span);
  if (from >= to) throw invalid(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
  return { from, to };
}

/**
 * The memory analytics the dashboard shows: rollups per agent, team and fleet at a grain, calibration,
 * the three indicators, agent summaries, tier utilization, alerts and an agent's memory health. All but
 * memory health read the analytics schema (503 ANALYTICS_UNAVAILABLE when the analytics service never ran).
 */
export const analyticsRoutes: FastifyPluginAsyncTypebox<AnalyticsRoutesOptions> = async (app, { analytics, health }) => {
  app.get('/v1/analytics/overview', {
    schema: {
      tags: ['analytics'], summary: 'Fleet overview: throughput, consumer lag, indicators, recall latency, firing alerts, agent count',
      querystring: Type.Object({ window: Type.Optional(Window('1h')) }),
      response: { 200: A.Overview, ...errorResponses(400, 503) },
    },
  }, async (req) => analytics.overview(req.query.window ?? '1h'));

  app.get('/v1/analytics/rollups', {
    schema: {
      tags: ['analytics'], summary: 'Rollup buckets of an agent, a team or the fleet at a grain, over [from, to)',
      querystring: Type.Object({ scope: ScopeQ, id: IdQ, grain: Enum(GRAINS, { description: 'bucket width' }), ...Range }),
      response: { 200: A.RollupsBody, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const { scope, grain } = req.query;
    const id = scopeId(scope, req.query.id);
    const { from, to } = rangeOf(req.query, DEFAULT_SPAN[grain]);
    const buckets = Math.ceil((to - from) / GRAIN_MS[grain]);
    if (buckets > MAX_BUCKETS) throw invalid(`from..to spans ${buckets} ${grain} buckets; at most ${MAX_BUCKETS}: narrow the range or use a coarser grain`);
    return { scope, id, grain, from, to, items: await analytics.rollups({ scope, id, grain, from, to }) };
  });

  app.get('/v1/analytics/calibration', {
    schema: {
      tags: ['analytics'], summary: 'Calibration (reliability curve and Brier score) of the decisions scored in [from, to)',
      querystring: Type.Object({ scope: ScopeQ, id: IdQ, ...Range }),
      response: { 200: A.Calibration, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const id = scopeId(req.query.scope, req.query.id);
    return analytics.calibration({ scope: req.query.scope, id, ...rangeOf(req.query, DEFAULT_RANGE_MS) });
  });

  app.get('/v1/analytics/indicators', {
    schema: {
      tags: ['analytics'], summary: 'Decision quality, learning progress and memory efficiency of a scope over a window ending now',
      querystring: Type.Object({ scope: Type.Optional(Enum(ANALYTICS_SCOPES, { default: 'fleet', description: 'agent, team or fleet (default)' })), id: IdQ, window: Type.Optional(Window('24h')) }),
      response: { 200: A.Indicators, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const scope = req.query.scope ?? 'fleet';
    return analytics.indicators({ scope, id: scopeId(scope, req.query.id), window: req.query.window ?? '24h' });
  });

  app.get('/v1/analytics/agents', {
    schema: {
      tags: ['analytics'], summary: 'Every agent analytics has seen, with its figures over the window, most active first',
      querystring: Type.Object({ window: Type.Optional(Window('24h')) }),
      response: { 200: A.AgentSummariesBody, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const window = req.query.window ?? '24h';
    return { window, items: await analytics.agents(window) };
  });

  app.get('/v1/analytics/utilization', {
    schema: {
      tags: ['analytics'], summary: 'Tier sizes over [from, to) (sampled every minute; at most 500 points, the last sample of each stepMs bucket), the tier metrics now, and the compaction ratio',
      querystring: Type.Object(Range),
      response: { 200: A.Utilization, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const r = rangeOf(req.query, DEFAULT_RANGE_MS);
    return { ...r, ...(await analytics.utilization(r)) } as never;
  });

  app.get('/v1/alerts', {
    schema: {
      tags: ['analytics'], summary: 'Alerts: those firing now (newest first), or all, most recently changed first',
      querystring: Type.Object({ state: Type.Optional(Enum(['firing', 'all'] as const, { default: 'firing' })), limit: Type.Optional(IntQuery(1, 1000, 100, 'most alerts returned')) }),
      response: { 200: A.AlertsBody, ...errorResponses(400, 503) },
    },
  }, async (req) => ({ items: await analytics.alerts({ state: req.query.state ?? 'firing', limit: req.query.limit ?? 100 }) }));

  app.get('/v1/agents/:agentId/memory-health', {
    schema: {
      tags: ['memories'], summary: "An agent's memories by age, accesses and importance, with totals (live tiering version)", params: AgentParams,
      response: { 200: A.MemoryHealth, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => health.memoryHealth(req.params.agentId));
};
