/**
 * How every failure is answered, in the one error body `{ error: { code, message, details? } }`:
 * route errors (errorHandler), unknown routes (notFoundHandler), URLs fastify cannot route
 * (frameworkErrors) and malformed HTTP that never reaches a route (clientError). All are set on
 * the root instance by buildApp, so every route plugin inherits them.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isConnectionFailure } from '@farmbrain/platform';
import { FarmbrainError } from '@farmbrain/contracts';
import { DEPENDENCY_CODES, STATUS_OF } from './errors.js';
import { validationFailed, ValidationFailedError, type SchemaError } from './validation.js';
import { EventsRejectedError } from '../write/eventsIn.js';

export const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** Route errors: validation, a FarmbrainError's code, fastify's own 4xx, a dependency outage, else 500. */
export const errorHandler = (bodyLimitBytes: number) =>
  (errIn: FastifyError | FarmbrainError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const fe = errIn as FastifyError;
    const err = fe.validation ? validationFailed(req, fe.validationContext, fe.validation as SchemaError[]) : errIn;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send(errorBody('PAYLOAD_TOO_LARGE', `body is larger than ${bodyLimitBytes} bytes; send fewer events per request`));
    }
    if (!(err instanceof FarmbrainError) && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // fastify's own request errors (media type, unparsable or empty JSON body, ...).
      return reply.status(400).send(errorBody('BAD_REQUEST', err.message));
    }
    if (err instanceof FarmbrainError) {
      const status = STATUS_OF[err.code] ?? 500;
      // A dependency outage is logged once per change of state by the health monitor, not per request.
      if (DEPENDENCY_CODES.has(err.code)) req.log.debug({ err }, 'request failed: dependency unavailable');
      else if (status >= 500) req.log.error({ err }, 'request failed');
      const details = err instanceof EventsRejectedError ? err.issues : err instanceof ValidationFailedError ? err.details : undefined;
      return reply.status(status).send({ error: { code: err.code, message: err.message, ...(details ? { details } : {}) } });
    }
    if (isConnectionFailure(err)) {
      req.log.debug({ err }, 'request failed: dependency unavailable');
      return reply.status(503).send(errorBody('SERVICE_UNAVAILABLE', 'a backing service did not answer; retry shortly (GET /readyz shows which)'));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error; see the gateway log'));
  };

/** No route for the method and URL. */
export const notFoundHandler = (req: FastifyRequest, reply: FastifyReply) =>
  reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.length > 200 ? `${req.url.slice(0, 200)}…` : req.url}; see /docs`));

/** A URL fastify cannot route (bad percent-encoding, ...). */
export const frameworkErrors = (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) =>
  reply.status(400).send(errorBody('BAD_REQUEST', err.message));

/**
 * Malformed HTTP that never reaches a route (an oversized header block, a
 * broken request line): answered in the same error shape, then the socket closes.
 */
export function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify(status === 431
    ? errorBody('REQUEST_HEADERS_TOO_LARGE', 'the request line and headers are too large; send long parameters in a POST body or shorten the query string')
    : errorBody('BAD_REQUEST', `malformed HTTP request (${err.code ?? err.message})`));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
