import { batchMsgId, frameBatch } from './codec.js';

/** How many events, and how many bytes of them, one ingress message may carry. */
export interface BatchLimits {
  maxEvents: number;
  /** Bytes of the framed body (below NATS' max_payload). */
  maxBytes: number;
}

/** The limits the SDK and the gateway's HTTP write path batch with unless told otherwise. */
export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({ maxEvents: 256, maxBytes: 512 * 1024 });

/** What one event may add to a framed body besides its own bytes (tag and length, rounded up). */
const FRAMING_BYTES = 8;

/** An event already encoded (encodeEvent), as a producer holds it until it is sent. */
export interface EncodedEvent {
  event: { eventId: string };
  bytes: Uint8Array;
}

/**
 * How many of `items`, from index `from` on, go into the next message: as many as fit in
 * `limits`, and always at least one (an event larger than maxBytes travels
 * alone; validation bounds its size). 0 only when none is left.
 */
export function nextBatchLength(items: readonly { bytes: Uint8Array }[], limits: BatchLimits = DEFAULT_BATCH_LIMITS, from = 0): number {
  let n = 0;
  let bytes = 0;
  while (from + n < items.length && n < limits.maxEvents) {
    const size = items[from + n]!.bytes.byteLength + FRAMING_BYTES;
    if (n > 0 && bytes + size > limits.maxBytes) break;
    bytes += size;
    n++;
  }
  return n;
}

/** `items`, in order, cut into the messages nextBatchLength makes. */
export function batchesOf<T extends { bytes: Uint8Array }>(items: readonly T[], limits: BatchLimits = DEFAULT_BATCH_LIMITS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const n = nextBatchLength(items, limits, i);
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/**
 * The message carrying `items` (one agent's, in producer order): the framed
 * body and its Nats-Msg-Id. A retry must resend the same items to be deduped.
 */
export function batchMessage(items: readonly EncodedEvent[]): { body: Uint8Array; msgId: string } {
  return { body: frameBatch(items.map((i) => i.bytes)), msgId: batchMsgId(items.map((i) => i.event)) };
}
