import { FarmbrainError } from '@farmbrain/contracts';

export class NotFoundError extends FarmbrainError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} '${id}' was not found`);
    this.name = 'NotFoundError';
  }
}

/** A read of an agent id that has no row in `agents`: the agent never recorded an event. */
export class UnknownAgentError extends FarmbrainError {
  constructor(agentId: string) {
    super(
      'UNKNOWN_AGENT',
      `agent '${agentId}' is unknown: it has recorded no event yet. An agent exists once it records an event (register it first, with an agent_registered event); `
        + "if it just did, pass that write's consistencyToken as 'consistency' so the read waits until the write is applied",
    );
    this.name = 'UnknownAgentError';
  }
}

export class BadRequestError extends FarmbrainError {
  constructor(message: string, readonly details?: unknown) {
    super('BAD_REQUEST', message);
    this.name = 'BadRequestError';
  }
}

/** The one place codes become HTTP statuses. */
export const STATUS_OF: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_EVENT: 400,
  VALIDATION_FAILED: 400,
  INVALID_CURSOR: 400,
  INVALID_REQUEST: 400,
  INVALID_CONSISTENCY_TOKEN: 400,
  SCOPE_FORBIDDEN: 403,
  NOT_OWNER: 403,
  NOT_FOUND: 404,
  UNKNOWN_AGENT: 404,
  MEMORY_FORGOTTEN: 409,
  RECORD_DELETED: 410,
  ALREADY_REPLAYED: 409,
  NOT_REPLAYABLE: 409,
  PAYLOAD_TOO_LARGE: 413,
  REQUEST_HEADERS_TOO_LARGE: 431,
  SERVICE_UNAVAILABLE: 503,
  POSTGRES_UNAVAILABLE: 503,
  REDIS_UNAVAILABLE: 503,
  NATS_UNAVAILABLE: 503,
  PUBLISH_FAILED: 503,
  CONSISTENCY_TIMEOUT: 503,
  EMBEDDINGS_UNAVAILABLE: 503,
  ARCHIVE_UNAVAILABLE: 503,
  ANALYTICS_UNAVAILABLE: 503,
  DASHBOARD_NOT_BUILT: 503,
  FEED_FULL: 503,
  BLOCK_CORRUPT: 500,
  INTERNAL: 500,
};

/** Codes of a backing service that did not answer: expected during an outage, logged by the health monitor, not per request. */
export const DEPENDENCY_CODES: ReadonlySet<string> = new Set(['POSTGRES_UNAVAILABLE', 'REDIS_UNAVAILABLE', 'NATS_UNAVAILABLE', 'SERVICE_UNAVAILABLE']);
