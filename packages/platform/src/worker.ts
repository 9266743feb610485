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
  /** Called after each applied batch with its last stream sequence. */
  onApplied?(lastSeq: number, count: number): void;
  maxRetryDelayMs?: number;
}

/**
 * Pulls one partition's durable consumer and applies it batch by batch, strictly
 * in order: a failed batch is retried in place (with backoff) and nothing after
 * it is applied or acked until it succeeds.
 */
export class PartitionWorker {
  #queue: JsMsg[] = [];
  #maxEnqueued = 0;
  #lastApplied = 0;
  #wake: (() => void) | undefined;
  #messages: ConsumerMessages | undefined;
  #stopping = false;
  #done: Promise<void> | undefined;

  constructor(private readonly o: PartitionWorkerOptions) {}

  get lastApplied(): number {
    return this.#lastApplied;
  }

  async start(): Promise<void> {
    await this.#consume();
    this.#done = this.#loop();
  }

  /**
   * Pulls from the durable. The client keeps pulling across NATS disconnects and
   * restarts; should the pull end anyway, it is started again with backoff.
   */
  async #consume(): Promise<void> {
    const consumer = await this.o.js.consumers.get(this.o.stream, this.o.durable);
    const messages = await consumer.consume({
      max_messages: this.o.batchSize * 2,
      callback: (m) => {
        // A redelivery of something already queued or applied adds nothing.
        if (m.seq <= this.#maxEnqueued) return;
        this.#maxEnqueued = m.seq;
        this.#queue.push(m);
        this.#wake?.();
      },
    });
    this.#messages = messages;
    void messages.closed().then(async (err) => {
      if (this.#stopping) return;
      this.o.log.warn({ durable: this.o.durable, err: err ? String(err) : undefined }, 'partition pull ended; starting it again');
      for (let delay = 250; !this.#stopping; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.#consume();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    });
  }

  async #loop(): Promise<void> {
    let delay = 50;
    /** Failed attempts of the batch in hand, and since when (logged once when it stalls, once when it resumes). */
    let failures = 0;
    let stalledAt = 0;
    while (!this.#stopping) {
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
      this.#queue.splice(0, batch.length);
      const last = batch[batch.length - 1]!;
      last.ack(); // AckPolicy.All: acks the whole batch.
      this.#lastApplied = last.seq;
      this.o.onApplied?.(last.seq, batch.length);
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
