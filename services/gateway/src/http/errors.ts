import { FarmbrainError } from '@farmbrain/contracts';

export class NotFoundError extends FarmbrainError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} '${id}' was not found`);
    this.name = 'NotFoundError';
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
  MEMORY_FORGOTTEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  SERVICE_UNAVAILABLE: 503,
  PUBLISH_FAILED: 503,
  CONSISTENCY_TIMEOUT: 503,
  EMBEDDINGS_UNAVAILABLE: 503,
  INTERNAL: 500,
};
