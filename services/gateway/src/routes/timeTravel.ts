import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { consistencyTokenOf, FarmbrainError, parseInstant, partitionOf } from '@farmbrain/contracts';
import { NotFoundError } from '../http/errors.js';
import * as R from '../http/responses.js';
import { AgentParams, errorResponses, Id, Text, TimeQuery } from '../http/schemas.js';
import type { ReadStore } from '../read/readStore.js';
import type { EventsIn } from './events.js';

export type TimeTravelReads = Pick<ReadStore, 'stateAsOf' | 'currentCheckpoint' | 'checkpoint'>;

export type TimeTravelRoutesOptions = {
  /** Read at request time (the live version's store; see routes/agents.ts). */
  reads: TimeTravelReads;
  writer: EventsIn;
  partitions: number;
};

/**
 * Time travel: an agent's state as of any past moment (with the checkpoint
 * that was current then and what followed it), its current checkpoint, and a
 * restore to one of its checkpoints, which is an event on the log (audited).
 */
export const timeTravelRoutes: FastifyPluginAsyncTypebox<TimeTravelRoutesOptions> = async (app, { reads, writer, partitions }) => {
  app.get('/v1/agents/:agentId/state', {
    schema: {
      tags: ['agents'], summary: 'The agent as it stood at a moment: who it was, open positions, newest decisions and memories, the checkpoint current then',
      description: 'Rebuilt from what the stores keep of the past, in every tier: agent history, decisions, trades (positions are folded again), '
        + 'memory versions. `checkpoint` is the checkpoint that was current then; `since` counts what followed it until `as_of`.',
      params: AgentParams,
      querystring: Type.Object({ as_of: Type.Optional(TimeQuery('the moment (default: now)')) }),
      response: { 200: R.AgentStateAsOf, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    const at = parseInstant('as_of', req.query.as_of, 'BAD_REQUEST') ?? new Date();
    const s = await reads.stateAsOf(req.params.agentId, at);
    if (!s) throw new FarmbrainError('NOT_FOUND', `agent '${req.params.agentId}' had recorded nothing by ${at.toISOString()}`);
    return s as never;
  });

  app.get('/v1/agents/:agentId/checkpoints/current', {
    schema: {
      tags: ['checkpoints'], summary: "The agent's current checkpoint: its newest, unless a later restore made another one current",
      params: AgentParams,
      response: { 200: R.CurrentCheckpoint, ...errorResponses(400, 404, 503) },
    },
  }, async (req) => {
    const c = await reads.currentCheckpoint(req.params.agentId);
    if (!c) throw new NotFoundError('checkpoint', 'current');
    return c as never;
  });

  app.post('/v1/agents/:agentId/restore', {
    schema: {
      tags: ['checkpoints'], summary: 'Restore the agent to one of its checkpoints: an agent_restored event on the log (audited)',
      description: 'The checkpoint becomes the agent\'s current one (GET …/checkpoints/current) until it saves a newer one.',
      params: AgentParams,
      body: Type.Object({
        checkpointId: Id(64, { description: 'event id of the checkpoint_saved event' }),
        reason: Type.Optional(Text(1024)),
        operator: Type.Optional(Id(128, { description: 'who restores (kept with the event)' })),
      }, { additionalProperties: false }),
      response: { 202: R.Restored, ...errorResponses(400, 404, 503) },
    },
  }, async (req, reply) => {
    const { agentId } = req.params;
    const c = await reads.checkpoint(agentId, req.body.checkpointId);
    if (!c) throw new NotFoundError('checkpoint', req.body.checkpointId);
    const [event] = writer.toEvents([{ agentId, type: 'agent_restored', data: { checkpointId: c.checkpointId as string, reason: req.body.reason ?? '', operator: req.body.operator ?? '' } }]);
    const [ack] = await writer.publish([event!]);
    return reply.status(202).send({ eventId: event!.eventId, checkpointId: c.checkpointId as string, consistencyToken: consistencyTokenOf(partitionOf(agentId, partitions), ack!.streamSeq) });
  });
};
