import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as R from '../http/responses.js';
import { errorResponses, Id } from '../http/schemas.js';
import type { ReadStore } from '../read/readStore.js';

/** What the lifecycle routes read: any record by id, across tiers, and why it is where it is. */
export type RecordReads = Pick<ReadStore, 'record' | 'explain'>;

export type LifecycleRoutesOptions = {
  /** Read at request time (a proxy following the live projection version, as for the agent routes). */
  reads: RecordReads;
};

const RecordParams = Type.Object({ recordId: Id(256, { description: 'id of a decision, trade, checkpoint or recall (its event id), or of a memory' }) });

/**
 * Records across the tiers: `GET /v1/records/:recordId` reads one wherever it
 * is (warm rows, a cold block, the archive store), naming the tier;
 * `GET /v1/lifecycle/explain/:recordId` says where it is, since when, the moves
 * (policy and reason) that took it there, its legal hold and what comes next.
 */
export const lifecycleRoutes: FastifyPluginAsyncTypebox<LifecycleRoutesOptions> = async (app, { reads }) => {
  app.get('/v1/records/:recordId', {
    schema: {
      tags: ['lifecycle'], summary: 'Any record by id, from whichever tier holds it', params: RecordParams,
      response: { 200: R.RecordRead, ...errorResponses(400, 404, 410, 503) },
    },
  }, async (req) => (await reads.record(req.params.recordId)) as never);

  app.get('/v1/lifecycle/explain/:recordId', {
    schema: {
      tags: ['lifecycle'], summary: 'Where a record is, since when, and why: the moves that took it there, its legal hold, what comes next',
      params: RecordParams,
      response: { 200: R.Explain, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => (await reads.explain(req.params.recordId)) as never);
};
