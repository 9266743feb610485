import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AgentId, Enum, errorResponses, Id, IntQuery, Nullable, Page } from '../http/schemas.js';
import type { DeadLetterStore } from '../deadLetters/deadLetterStore.js';

const DeadLetter = Type.Object({
  id: Type.String({ description: "p:<n> (a projection's) or i:<seq> (ingest's)" }),
  source: Enum(['ingest', 'projection'] as const),
  projection: Type.String({ description: "the projection's versioned name ('' for ingest)" }),
  agentId: Type.String(),
  eventId: Nullable(Type.String()),
  eventType: Type.String(),
  code: Type.String({ description: 'ingest: the validation reason code; projection: APPLY_FAILED, DECODE_ERROR, INVALID_EVENT, NOT_OWNER, UNKNOWN_MEMORY, MEMORY_FORGOTTEN or MEMORY_EXISTS' }),
  reason: Type.String(),
  sqlstate: Nullable(Type.String({ description: 'Postgres SQLSTATE of a store error' })),
  deadLetteredAt: Nullable(Type.String()),
  replayedAt: Nullable(Type.String()),
  event: Type.String({ description: 'the event as it was on the stream: protobuf, base64' }),
});

const Replayed = Type.Object({
  id: Type.String(),
  eventId: Type.String({ description: 'the (first) event id of what was replayed' }),
  streamSeq: Type.Integer({ description: 'where the replay landed on the ingress stream' }),
  consistencyToken: Type.String({ description: "pass as 'consistency' to a read: it answers once the replay went through ingest and the projections" }),
});

const DeadLetterId = Id(40, { description: 'p:<n> (a projection dead letter) or i:<n> (an ingest dead letter), as listed' });

/** What the dead-letter routes use of the DeadLetterStore. */
export type DeadLetters = Pick<DeadLetterStore, 'list' | 'get' | 'replay'>;

export type DeadLetterRoutesOptions = {
  /**
   * Called at request time, never at registration: the gateway passes a proxy that resolves to the live
   * projection version's store at each property access (live/following.ts), so `deadLetters.method(...)`
   * is called inside each handler and no method of it is kept.
   */
  deadLetters: DeadLetters;
};

/** Dead letters: list them (ingest's and the projections'), show one, and replay one after a fix. */
export const deadLetterRoutes: FastifyPluginAsyncTypebox<DeadLetterRoutesOptions> = async (app, { deadLetters }) => {
  app.get('/v1/dead-letters', {
    schema: {
      tags: ['ops'], summary: 'Dead letters: events ingest rejected, or a projection could not apply or skipped on purpose',
      description: 'source=projection (default): newest first, from Postgres, kept until deleted. source=ingest: oldest first, '
        + 'from the dead-letter stream (kept FB_DLQ_MAX_AGE_MS). Filter by agentId and code.',
      querystring: Type.Object({
        source: Type.Optional(Enum(['ingest', 'projection'] as const)),
        agentId: Type.Optional(AgentId),
        code: Type.Optional(Id(64)),
        limit: Type.Optional(IntQuery(1, 500, 50)),
        cursor: Type.Optional(Id(40, { description: 'nextCursor of the previous page' })),
      }, { additionalProperties: false }),
      response: { 200: Page(DeadLetter), ...errorResponses(400, 503) },
    },
  }, async (req) => deadLetters.list(req.query));

  app.get('/v1/dead-letters/:id', {
    schema: {
      tags: ['ops'], summary: 'One dead letter, by the id the listing gives',
      description: 'NOT_FOUND when there is no such dead letter (an ingest one is kept FB_DLQ_MAX_AGE_MS).',
      params: Type.Object({ id: DeadLetterId }),
      response: { 200: DeadLetter, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => deadLetters.get(req.params.id));

  app.post('/v1/dead-letters/:id/replay', {
    schema: {
      tags: ['ops'], summary: 'Replay a dead letter after a fix: its event goes through ingest again and is applied',
      description: "Publishes the stored event again on its agent's ingress subject, like any producer batch, marked as the "
        + 'replay of this dead letter: ingest checks it again (a scope policy changed since applies), then the projection '
        + 'forgets it had dead-lettered it and applies it. What fails again is dead-lettered again (a projection dead letter is '
        + 'listed again, not replayed, with the new reason; an ingest one as a new dead letter). '
        + 'ALREADY_REPLAYED: a projection dead letter already replayed, or any dead letter replayed moments ago; '
        + 'NOT_REPLAYABLE: it holds a message that never decoded.',
      params: Type.Object({ id: DeadLetterId }),
      response: { 202: Replayed, ...errorResponses(400, 404, 409, 503) },
    },
  }, async (req, reply) =>
    reply.status(202).send(await deadLetters.replay(req.params.id)));
};
