/** The deployment's event limits (FB_MAX_*): ingest, the gateway, the SDK and the projections check events against the same ones. */

export interface EventLimits {
  /** Largest encoded event, bytes. */
  maxEventBytes: number;
  /** Largest checkpoint state, bytes. */
  maxCheckpointBytes: number;
  maxTextChars: number;
  maxTags: number;
  maxVectorDims: number;
  /** How far ahead of the reference clock occurredAt may be. */
  maxFutureSkewMs: number;
  /** How far behind it may be (an outbox can hold events while NATS is down). */
  maxPastSkewMs: number;
}

export const defaultEventLimits = (): EventLimits => ({
  maxEventBytes: 768 * 1024,
  maxCheckpointBytes: 512 * 1024,
  maxTextChars: 16_384,
  maxTags: 32,
  maxVectorDims: 4096,
  maxFutureSkewMs: 60_000,
  maxPastSkewMs: 7 * 24 * 3600_000,
});
