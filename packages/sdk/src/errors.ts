import { FarmbrainError } from '@farmbrain/contracts';

/** The outbox reached its bound (NATS has been unreachable or slow); nothing was dropped. */
export class OutboxFullError extends FarmbrainError {
  constructor(agentId: string, events: number, bytes: number, lastError?: Error) {
    super(
      'OUTBOX_FULL',
      `agent '${agentId}': the outbox is full (${events} events, ${bytes} bytes) because NATS has not acknowledged them` +
        `${lastError ? ` (last error: ${lastError.message})` : ''}. Retry later, slow down, or raise outbox.maxEvents/maxBytes.`,
    );
    this.name = 'OutboxFullError';
  }
}

/** close(), flush() or a read-your-writes read ran out of time with events still unsent. */
export class FlushTimeoutError extends FarmbrainError {
  constructor(agentId: string, readonly unsent: number, lastError?: Error, hint = 'Check that NATS is reachable, then record them again.') {
    super(
      'FLUSH_TIMEOUT',
      `agent '${agentId}': ${unsent} events were not acknowledged by JetStream in time` +
        `${lastError ? ` (last error: ${lastError.message})` : ''}. ${hint}`,
    );
    this.name = 'FlushTimeoutError';
  }
}

/** The client was closed; create a new one to record more. */
export class ClosedError extends FarmbrainError {
  constructor(agentId: string) {
    super('CLOSED', `agent '${agentId}': this client is closed; create a new FarmbrainAgent to record more`);
    this.name = 'ClosedError';
  }
}

/**
 * A gateway read failed. `status` is the HTTP status (0 when no response came
 * back: GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT). For an error the gateway
 * answered, `code`, `message` and `details` are those of its
 * `{ error: { code, message, details } }` body.
 */
export class GatewayError extends FarmbrainError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = 'GatewayError';
  }
}

/** A read request failed client-side validation (nothing was sent). `field` names the offending field. */
export class InvalidRequestError extends FarmbrainError {
  constructor(readonly field: string, message: string) {
    super('INVALID_REQUEST', `${field}: ${message}`);
    this.name = 'InvalidRequestError';
  }
}
