import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { FarmbrainError } from '@farmbrain/contracts';
import * as R from '../http/responses.js';
import { errorResponses } from '../http/schemas.js';
import { EventsBodySchema, type EventWriter } from '../write/eventsIn.js';

/** What the write route uses of the EventWriter. */
export type EventsIn = Pick<EventWriter, 'toEvents' | 'publish'>;

export type EventRoutesOptions = {
  writer: EventsIn;
  maxEventsPerRequest: number;
};

/** The HTTP write path: POST /v1/events, for agents that cannot speak NATS. */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { writer, maxEventsPerRequest }) => {
  app.post('/v1/events', {
    schema: {
      tags: ['write'],
      summary: 'Record events over HTTP (for agents that cannot speak NATS): same validation, same log',
      description: 'All events are validated before any is published. 202 means JetStream stored them; projections follow within milliseconds.',
      body: EventsBodySchema,
      response: { 202: R.Accepted, ...errorResponses(400, 413, 503) },
    },
  }, async (req, reply) => {
    if (req.body.events.length > maxEventsPerRequest) {
      throw new FarmbrainError('BAD_REQUEST', `a request may carry at most ${maxEventsPerRequest} events; got ${req.body.events.length}`);
    }
    const accepted = await writer.publish(writer.toEvents(req.body.events));
    return reply.status(202).send({ accepted });
  });
};
