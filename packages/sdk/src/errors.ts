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

/** close() or flush() ran out of time with events still unsent. */
export class FlushTimeoutError extends FarmbrainError {
  constructor(agentId: string, readonly unsent: number, lastError?: Error) {
    super(
      'FLUSH_TIMEOUT',
      `agent '${agentId}': ${unsent} events were not acknowledged by JetStream in time` +
        `${lastError ? ` (last error: ${lastError.message})` : ''}. Check that NATS is reachable, then record them again.`,
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
