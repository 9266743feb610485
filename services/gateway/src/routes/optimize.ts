import { Type, type Static } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { METRIC_TIERS, OPTIMIZE_STEPS, OPTIMIZE_TIERS, type OptimizeReport, type OptimizeStepName, type TierMetrics } from '@farmbrain/lifecycle';
import { AgentId, Enum, errorResponses, Nullable } from '../http/schemas.js';

/** What the lifecycle operations routes use: tier metrics, and the optimize run (and its dry run). */
export interface LifecycleOps {
  metrics(): Promise<TierMetrics>;
  optimize(o: { dryRun: boolean; steps?: OptimizeStepName[]; agents?: string[] }): Promise<OptimizeReport>;
}

export type OptimizeRoutesOptions = {
  /** Read at request time (a proxy following the live projection version). */
  ops: LifecycleOps;
};

const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });
const Bytes = (description?: string) => Type.Integer({ ...(description ? { description } : {}) });
const Figure = Type.Object({ records: Count(), bytes: Count() });
const TierFigures = Type.Object(Object.fromEntries(METRIC_TIERS.map((t) => [t, Figure])) as Record<(typeof METRIC_TIERS)[number], typeof Figure>);
const PartialTierFigures = Type.Object(Object.fromEntries(METRIC_TIERS.map((t) => [t, Type.Optional(Figure)])) as Record<(typeof METRIC_TIERS)[number], ReturnType<typeof Type.Optional<typeof Figure>>>);

export const TierMetricsBody = Type.Object({
  at: Type.String({ description: 'when it was measured (ISO 8601)' }),
  tiers: TierFigures,
  agents: Type.Array(Type.Object({ agentId: Type.String(), tiers: PartialTierFigures })),
  recallHits: Type.Object({
    hot: Count('recall hits served from the Redis hot tier'),
    warm: Count('from Postgres'),
    hotRatio: Nullable(Type.Number({ description: 'hot / (hot + warm); null before any recall' })),
  }),
  moves: Type.Array(Type.Object({ policy: Type.String(), moves: Count(), records: Count(), bytesBefore: Count(), bytesAfter: Count() })),
  consolidation: Type.Object({ canonical: Count('canonical memories standing for others'), merged: Count('memories they replaced in recall') }),
}, { description: 'bytes and records per tier (fleet and per agent), recall hits per tier, moves applied per policy, consolidation counts' });

const Refused = Type.Object({ moveId: Type.String(), code: Type.String(), reason: Type.String() });

export const OptimizeBody = Type.Object({
  dryRun: Type.Boolean({ description: 'true: what a run would do, nothing changed' }),
  at: Type.String({ description: 'the clock the plan was made with (ISO 8601)' }),
  tookMs: Count(),
  steps: Type.Array(Type.Object({
    step: Enum(OPTIMIZE_STEPS),
    status: Enum(['planned', 'done', 'nothing to do', 'skipped', 'not available'] as const),
    summary: Type.String(),
    actions: Count('events published (or to publish), keys removed, tables vacuumed'),
    records: Count(),
    bytesBefore: Bytes(),
    bytesAfter: Bytes(),
    refused: Type.Array(Refused, { description: 'moves tiering dead-lettered (see GET /v1/dead-letters)' }),
  })),
  tiers: Type.Array(Type.Object({ tier: Enum(OPTIMIZE_TIERS), before: Bytes(), after: Bytes(), saved: Bytes('before - after; a dry run estimates after') })),
  postgres: Type.Object({
    before: Bytes('the schema\'s tables, indexes and TOAST'),
    after: Nullable(Type.Integer()),
    saved: Nullable(Type.Integer()),
    tables: Type.Array(Type.Object({ table: Type.String(), bytesBefore: Bytes(), bytesAfter: Nullable(Type.Integer()), deadRowsBefore: Count() })),
  }),
  retention: Type.Object({
    byPolicy: Type.Array(Type.Object({ policy: Type.String(), moves: Count(), records: Count() })),
    heldBack: Type.Array(Type.Object({ agentId: Type.String(), kind: Type.String(), day: Nullable(Type.String()), records: Count(), policy: Type.String(), reason: Type.String() })),
    notes: Type.Array(Type.String()),
  }),
  compaction: Type.Object({
    days: Type.Array(Type.Object({ agentId: Type.String(), kind: Type.String(), day: Type.String(), blocksBefore: Count(), blocksAfter: Count(), records: Count() })),
  }),
  redis: Type.Object({
    idleMinutes: Count(),
    agentCopies: Count('hot copies of idle agents removed'),
    memdocs: Type.Array(Type.Object({ why: Type.String(), keys: Count(), bytes: Count() })),
  }),
  consistencyToken: Nullable(Type.String({ description: 'covers every event the run published' })),
}, { description: 'what each step did (or would do), and bytes per tier before and after' });

const OptimizeRequest = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ default: false, description: 'plan and report only' })),
  steps: Type.Optional(Type.Array(Enum(OPTIMIZE_STEPS), { minItems: 1, maxItems: OPTIMIZE_STEPS.length, uniqueItems: true, description: `these steps only (default all: ${OPTIMIZE_STEPS.join(', ')})` })),
  agents: Type.Optional(Type.Array(AgentId, { minItems: 1, maxItems: 10_000, uniqueItems: true, description: 'these agents only (default every agent)' })),
}, { additionalProperties: false });

/**
 * Lifecycle operations: `GET /v1/lifecycle/metrics` (bytes and records per
 * tier, for a dashboard) and `POST /v1/optimize`: expiry and retention by the
 * lifecycle policies, memory consolidation, compaction of cold blocks, VACUUM
 * (ANALYZE) of the tables written and a Redis trim, or with `dryRun` what it
 * would do (the same plan).
 */
export const optimizeRoutes: FastifyPluginAsyncTypebox<OptimizeRoutesOptions> = async (app, { ops }) => {
  app.get('/v1/lifecycle/metrics', {
    schema: {
      tags: ['lifecycle'], summary: 'Bytes and records per tier and agent, recall hits per tier, moves per policy, consolidation counts',
      response: { 200: TierMetricsBody, ...errorResponses(503) },
    },
  }, async () => (await ops.metrics()) as Static<typeof TierMetricsBody>);

  app.post('/v1/optimize', {
    schema: {
      tags: ['lifecycle'],
      summary: 'Apply the lifecycle policies now, consolidate memories, compact cold blocks, VACUUM (ANALYZE) and trim Redis; dryRun: what it would do',
      body: OptimizeRequest,
      response: { 200: OptimizeBody, ...errorResponses(400, 503) },
    },
  }, async (req) => {
    const b = req.body;
    return (await ops.optimize({ dryRun: b.dryRun ?? false, ...(b.steps ? { steps: b.steps } : {}), ...(b.agents ? { agents: b.agents } : {}) })) as Static<typeof OptimizeBody>;
  });
};
