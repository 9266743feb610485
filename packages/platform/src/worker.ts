import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from './logger.js';

export interface PartitionWorkerOptions {
  js: JetStreamClient;
  stream: string;
  durable: string;
  /** Most messages handed to `handle` at once. */
  batchSize: number;
  log: Logger;
  /**
   * Applies a batch, in stream order. Must be idempotent: after a crash the same
   * messages come again. The worker acks (cumulatively) only after it resolves.
   */
  handle(msgs: readonly JsMsg[]): Promise<void>;
  /**
   * Recreates the durable so that delivery resumes right after stream sequence
   * `afterSeq` (or earlier: replays are harmless). Called when deliveries were
   * lost on the way (a connection dropped while the server was sending): with
   * cumulative acks, acking what came after them would skip them for good.
   */
  reset(afterSeq: number): Promise<void>;
  /** Called after each applied batch with its last stream sequence. */
  onApplied?(lastSeq: number, count: number): void;
  maxRetryDelayMs?: number;
}

/**
 * Tells whether deliveries of a consumer arrive without a hole: each delivery
 * (first or re-) has the next delivery sequence. A hole means messages the
 * server sent never arrived.
 */
export class DeliveryTracker {
  #last = 0;
  /** True when this delivery follows the previous one (or is the first seen). */
  next(deliverySequence: number): boolean {
    const ok = this.#last === 0 || deliverySequence === this.#last + 1;
    this.#last = deliverySequence;
    return ok;
  }
  restart(): void {
    this.#last = 0;
  }
}

/**
 * Pulls one partition's durable consumer and applies it batch by batch, strictly
 * in order: a failed batch is retried in place (with backoff) and nothing after
 * it is applied or acked until it succeeds. If deliveries are lost on the way
 * (a hole in the delivery sequence), nothing after the hole is applied: the
 * durable is recreated after the last applied message and pulled again.
 */
export class PartitionWorker {
  #queue: JsMsg[] = [];
  #maxEnqueued = 0;
  #lastApplied = 0;
  #wake: (() => void) | undefined;
  #messages: ConsumerMessages | undefined;
  #stopping = false;
  /** Set when the pull must start over after the last applied message (a hole, or the pull ended). */
  #resetting: string | undefined;
  readonly #deliveries = new DeliveryTracker();
  #done: Promise<void> | undefined;

  constructor(private readonly o: PartitionWorkerOptions) {}

  get lastApplied(): number {
    return this.#lastApplied;
  }

  /** How many times the pull started over after the last applied message. */
  resets = 0;

  async start(): Promise<void> {
    await this.#consume();
    this.#done = this.#loop();
  }

  /** Pulls from the durable. The client keeps pulling across NATS disconnects and restarts. */
  async #consume(): Promise<void> {
    this.#deliveries.restart();
    const consumer = await this.o.js.consumers.get(this.o.stream, this.o.durable);
    const messages = await consumer.consume({
      max_messages: this.o.batchSize * 2,
      callback: (m) => {
        if (this.#resetting) return;
        if (!this.#deliveries.next(m.info.deliverySequence)) {
          this.#startOver(`deliveries were lost on the way (delivery ${m.info.deliverySequence} came after a hole)`);
          return;
        }
        // A redelivery of something already queued or applied adds nothing.
        if (m.seq <= this.#maxEnqueued) return;
        this.#maxEnqueued = m.seq;
        this.#queue.push(m);
        this.#wake?.();
      },
    });
    this.#messages = messages;
    void messages.closed().then((err) => {
      if (this.#stopping || this.#messages !== messages) return;
      this.#startOver(`the pull ended${err ? ` (${String(err)})` : ''}`);
    });
  }

  /** Drops what came after the last applied message; the loop recreates the durable and pulls again. */
  #startOver(why: string): void {
    if (this.#resetting) return;
    this.#resetting = why;
    this.#wake?.();
  }

  async #reset(): Promise<void> {
    const why = this.#resetting!;
    this.resets++;
    this.o.log.warn({ durable: this.o.durable, why, after: this.#lastApplied }, 'partition pull starts over after the last applied message');
    const old = this.#messages;
    this.#messages = undefined;
    await old?.close().catch(() => undefined);
    this.#queue = [];
    this.#maxEnqueued = this.#lastApplied;
    for (let delay = 250; !this.#stopping; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.o.reset(this.#lastApplied);
        await this.#consume();
        this.#resetting = undefined;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async #loop(): Promise<void> {
    let delay = 50;
    /** Failed attempts of the batch in hand, and since when (logged once when it stalls, once when it resumes). */
    let failures = 0;
    let stalledAt = 0;
    while (!this.#stopping) {
      if (this.#resetting) {
        await this.#reset();
        continue;
      }
      if (this.#queue.length === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#queue.slice(0, this.o.batchSize);
      try {
        await this.o.handle(batch);
      } catch (err) {
        if (this.#stopping) break;
        if (failures === 0) {
          stalledAt = Date.now();
          this.o.log.warn({ err: (err as Error)?.message ?? String(err), code: (err as { code?: unknown })?.code, durable: this.o.durable, firstSeq: batch[0]?.seq, n: batch.length },
            'partition stalled: batch failed; retrying in place with backoff');
        } else this.o.log.debug({ err, durable: this.o.durable, attempt: failures + 1 }, 'batch failed again');
        failures++;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.o.maxRetryDelayMs ?? 5000);
        continue;
      }
      if (failures > 0) this.o.log.info({ durable: this.o.durable, attempts: failures + 1, stalledMs: Date.now() - stalledAt }, 'partition resumed');
      failures = 0;
      delay = 50;
      const last = batch[batch.length - 1]!;
      this.#lastApplied = last.seq;
      this.o.onApplied?.(last.seq, batch.length);
      // A hole seen while this batch ran concerns deliveries after it: its own ack is safe. After a reset
      // the queue was emptied, so nothing of the old pull is acked.
      if (this.#queue[0] === batch[0]) this.#queue.splice(0, batch.length);
      last.ack(); // AckPolicy.All: acks the whole batch.
    }
  }

  /** Stops pulling, lets the batch in hand finish (and be acked), and returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#messages?.close().catch(() => undefined);
    await this.#done;
  }
}
