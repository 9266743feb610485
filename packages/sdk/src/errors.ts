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
  constructor(agentId: string, readonly unsent: number, lastError?: Error, hint = `${whatToCheck(lastError)}, then record them again.`) {
    super(
      'FLUSH_TIMEOUT',
      `agent '${agentId}': ${unsent} events were not acknowledged by JetStream in time` +
        `${lastError ? ` (last error: ${lastError.message})` : ''}. ${hint}`,
    );
    this.name = 'FlushTimeoutError';
  }
}

/**
 * The deployment refuses this agent's subject: its ingress stream captures only
 * its own partitions' subjects and this agent computed its partition with
 * another count. Nothing this client sent was stored. Every pending record
 * call rejects with this error, and so does every later one: create a new
 * client with the deployment's `partitions`.
 */
export class PartitionMismatchError extends FarmbrainError {
  constructor(
    agentId: string,
    readonly subject: string,
    /** The deployment's partition count; undefined when its stream's subjects do not tell. */
    readonly deploymentPartitions: number | undefined,
    readonly clientPartitions: number,
    stream: string,
    streamSubjects: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      'PARTITION_MISMATCH',
      deploymentPartitions !== undefined
        ? `agent '${agentId}': the deployment has ${deploymentPartitions} partitions but this agent was created with ${clientPartitions}, ` +
          `so JetStream refuses its subject '${subject}' (the ingress stream '${stream}' captures ${subjectsText(streamSubjects)}). ` +
          `Create the agent with partitions: ${deploymentPartitions} (the deployment's FB_PARTITIONS); nothing of this client was stored, record the events again.`
        : `agent '${agentId}': JetStream refuses its subject '${subject}': the ingress stream '${stream}' captures ${subjectsText(streamSubjects)}, ` +
          `and this agent was created with ${clientPartitions} partitions. Pass the deployment's FB_PARTITIONS as partitions and its FB_NAMESPACE as namespace; ` +
          `nothing of this client was stored, record the events again.`,
      options,
    );
    this.name = 'PartitionMismatchError';
  }
}

/**
 * JetStream refused the agent's subject because the namespace's ingress stream
 * does not exist (yet). Not a rejection of its own: the outbox keeps retrying,
 * since the farmbrain services create the stream when they start; it is the
 * `last error` an OUTBOX_FULL or FLUSH_TIMEOUT reports.
 */
export class IngressStreamMissingError extends FarmbrainError {
  constructor(readonly stream: string, namespace: string, options?: ErrorOptions) {
    super(
      'INGRESS_STREAM_MISSING',
      `the ingress stream '${stream}' does not exist yet: start the farmbrain services (they create it), ` +
        `or check that namespace '${namespace}' is the deployment's FB_NAMESPACE`,
      options,
    );
    this.name = 'IngressStreamMissingError';
  }
}

/** What a timeout message tells the user to check, given why the outbox could not deliver. */
export const whatToCheck = (lastError: Error | undefined): string =>
  lastError instanceof IngressStreamMissingError
    ? 'Start the farmbrain services or check the namespace'
    : 'Check that NATS is reachable';

const subjectsText = (subjects: readonly string[]): string =>
  subjects.length <= 4 ? subjects.map((s) => `'${s}'`).join(', ') : `'${subjects[0]}' … '${subjects[subjects.length - 1]}' (${subjects.length} subjects)`;

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
