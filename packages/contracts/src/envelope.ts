import { SCHEMA_VERSION, type EventOf, type EventPayloads, type EventType } from './events.js';
import { withDefaults, type PayloadInput } from './defaults.js';
import { newEventId } from './ids.js';

/** What a producer says about one event; buildEnvelope fills in the rest. */
export interface EnvelopeInput<T extends EventType = EventType> {
  agentId: string;
  type: T;
  /** The payload; a field with a default (PAYLOAD_DEFAULTS) may be left out. */
  data: PayloadInput<T> | EventPayloads[T];
  /** Default: a fresh UUIDv7. Reuse one to retry safely (idempotent). */
  eventId?: string;
  /** Default: the producer's next sequence number. */
  producerSeq?: number;
  /** Epoch milliseconds. Default: the producer's clock. */
  occurredAt?: number;
  /** Default ''. */
  correlationId?: string;
  /** Default ''. */
  causationId?: string;
}

/** Where the defaults of producerSeq and occurredAt come from (read only when the input leaves them out). */
export interface EnvelopeSource {
  /** The producer's sequence, strictly increasing per agent (a HybridSequence). */
  seq: { next(): number };
  /** The producer's clock, epoch ms. */
  now: () => number;
}

/**
 * The one way an event is put together, by the SDK and by the gateway's HTTP
 * write path alike: the envelope's defaults (fresh UUIDv7, the producer's
 * sequence and clock, empty correlation and causation, SCHEMA_VERSION) and the
 * payload with its defaults (withDefaults). It does not validate: validateEvent does.
 */
export function buildEnvelope<T extends EventType>(input: EnvelopeInput<T>, source: EnvelopeSource): EventOf<T> {
  return {
    eventId: input.eventId ?? newEventId(),
    agentId: input.agentId,
    producerSeq: input.producerSeq ?? source.seq.next(),
    occurredAt: input.occurredAt ?? source.now(),
    correlationId: input.correlationId ?? '',
    causationId: input.causationId ?? '',
    schemaVersion: SCHEMA_VERSION,
    type: input.type,
    data: withDefaults(input.type, input.data),
  } as unknown as EventOf<T>;
}
