import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BadRequestError } from '../http/errors.js';
import { errorResponses } from '../http/schemas.js';
import { EVENT_ID_PATTERN, parseEventId } from '../feed/feedItems.js';
import type { FeedPosition } from '../feed/feedItems.js';
import type { FeedSink } from '../feed/feedHub.js';

/** What the feed route uses: the gateway's one subscription (feed/feedHub.ts). */
export interface LiveFeed {
  subscribe(sink: FeedSink, after: FeedPosition | undefined): () => void;
}

export type FeedRoutesOptions = { feed: LiveFeed };

const EventId = (description: string) => Type.String({ maxLength: 24, pattern: EVENT_ID_PATTERN, description });

const STREAM_DESCRIPTION = [
  'Server-Sent Events (text/event-stream). Each frame is one of:',
  '`event: decision` with `id: <seq>` and `data: { eventId, agentId, symbol, action, size, confidence, occurredAt, memoryIds, recallIds, streamSeq }`;',
  '`event: alert` with `id: <seq>` and `data: { eventId, alertId, rule, metric, state, severity, subject, agentId, value, threshold, message, firedAt, occurredAt, streamSeq }`;',
  '`event: metrics` (no id) with `data:` the overview snapshot `{ generatedAt, throughput, lag, recallLatency, indicators }`, about every 2 s when it changed;',
  '`event: gap` with `id: <seq>` and `data: { requested, resumeAfter, missedMessages, reason }` when a resume id is older than what is replayed',
  '(`reason: "replay-limit"`: more than FB_FEED_MAX_REPLAY canonical messages back; `"retention"`: no longer in the stream): the client goes on after',
  '`resumeAfter`, and missed the `missedMessages` canonical messages before it (each carries zero or more decisions and alerts): reload what it shows;',
  '`event: reset` with `id: <seq>` and `data: { reason, resumeAfter, lastSeq, requested? }` when its position means nothing on this stream',
  '(`reason: "ahead"`: the resume id is past the stream\'s last sequence, and is clamped to now rather than refused; `"stream-reset"`: the stream was recreated):',
  'the client goes on from now: reload what it shows;',
  'and `: heartbeat` comments every 15 s. The first frame is `retry: 2000`.',
  '`id:` is the canonical events stream sequence of the event\'s message (`<seq>:<n>` for all but the last item of a message carrying several).',
  'Each event is sent once: a later copy of an event id (a republish past the stream\'s duplicate window) is left out, live and on replay.',
].join(' ');

/**
 * GET /v1/feed: new decisions and alerts as they reach the canonical log, and
 * metrics snapshots, as Server-Sent Events. A client resuming with
 * `Last-Event-ID` (the header EventSource sends, or `?lastEventId=`) gets
 * exactly the items it missed, in order, each event once, then the live ones;
 * or, when the id is older than FB_FEED_MAX_REPLAY messages or past the end of
 * the stream, a `gap` or `reset` event saying where it goes on from.
 */
export const feedRoutes: FastifyPluginAsyncTypebox<FeedRoutesOptions> = async (app, { feed }) => {
  app.get('/v1/feed', {
    schema: {
      tags: ['analytics'], summary: 'Live feed of decisions, alerts and metrics (Server-Sent Events); resumes from Last-Event-ID without loss or duplicate',
      querystring: Type.Object({
        lastEventId: Type.Optional(EventId('resume after this id (as the Last-Event-ID header); the header wins when both are sent. '
          + 'At most FB_FEED_MAX_REPLAY canonical messages back are replayed (older: an `event: gap` first); an id past the stream\'s end starts from now after an `event: reset`')),
      }),
      headers: Type.Object({ 'last-event-id': Type.Optional(EventId('the id of the last event received (EventSource sends it on reconnect)')) }),
      response: {
        200: { description: STREAM_DESCRIPTION, content: { 'text/event-stream': { schema: Type.String({ description: STREAM_DESCRIPTION }) } } },
        ...errorResponses(400, 503),
      },
    },
  }, async (req, reply) => {
    const raw = req.headers['last-event-id'] || req.query.lastEventId;
    const after = raw === undefined || raw === '' ? undefined : parseEventId(raw);
    if (raw !== undefined && raw !== '' && !after) throw new BadRequestError(`Last-Event-ID '${raw}' is not a feed id (<seq> or <seq>:<n>); reconnect without it to start from now`);
    const res = reply.raw;
    // The checks that can refuse (FEED_FULL, not following yet) run inside subscribe before it writes, so the
    // headers are sent only once it accepted: a refusal is a plain JSON error.
    const sink: FeedSink = {
      write: (chunk) => {
        if (!res.headersSent) {
          res.writeHead(200, {
            'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no',
          });
        }
        return res.write(chunk);
      },
      get writableLength() {
        return res.writableLength;
      },
      drained: () => new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      }),
      end: () => res.end(),
      destroy: () => res.destroy(),
    };
    const remove = feed.subscribe(sink, after);
    reply.hijack();
    // The response closes when the client goes away (or the feed ended it): the client is removed either way.
    res.on('close', remove);
    res.on('error', remove);
  });
};
