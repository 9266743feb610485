import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { PartitionWorker, provisionDurable, type Logger } from '@farmbrain/platform';
import type { CanonicalMessage } from './canonicalBatch.js';
import { FencedError } from './checkpoints.js';
import { PartitionLeases, type LeaseRecord } from './leases.js';

/** One partition, taken over by this instance: how it is applied. */
export interface PartitionSession {
  /**
   * Applies a batch, in stream order; idempotent (after a crash the same messages come again). May
   * resolve with how many events the batch held (status and progress count them; default: its messages).
   */
  handle(msgs: readonly CanonicalMessage[]): Promise<number | void>;
  /** Delivery resumes after this stream sequence (the session's own checkpoint); default: the durable's ack floor. */
  startAfter?: number;
  /** Called once the partition stopped (drained or lost). */
  close?(): Promise<void>;
}

export interface PartitionRunnerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The lease bucket (openLeaseBucket) and its TTL. */
  kv: KV;
  leaseTtlMs: number;
  /** The consumer group: its durables are `durable(p)`, its leases `<group>.p.<p>`. */
  group: string;
  stream: string;
  filterSubject(partition: number): string;
  durable(partition: number): string;
  partitions: number;
  instanceId: string;
  batchSize: number;
  log: Logger;
  /** Where this instance's ops endpoint answers (shown by `farmbrain status`). */
  ops?: string | null;
  /** Takes a partition over under `epoch` (fencing token); throws FencedError when a newer owner has it. */
  open(partition: number, epoch: number): Promise<PartitionSession>;
  /**
   * Where a partition's messages come from before the stream: those after
   * `afterSeq`, in stream order and in chunks, as far as that source holds
   * them (a rebuild reads the archive, then the stream). At takeover the
   * runner applies them (the lease checked around each chunk), in the
   * background, then creates the durable after the last one and pulls the
   * stream from there. Only for sessions that keep a checkpoint (startAfter).
   */
  history?(partition: number, afterSeq: number): AsyncIterable<readonly CanonicalMessage[]>;
}

/** A partition lease was lost while a batch was in hand: nothing of it is committed or acked. */
export class LeaseLostError extends Error {
  constructor(partition: number) {
    super(`the lease of partition ${partition} is no longer held by this instance`);
    this.name = 'LeaseLostError';
  }
}

interface Running {
  /** Set once the pull started. */
  worker: PartitionWorker | undefined;
  session: PartitionSession;
  applied: number;
  /** Events handled under this lease. */
  events: number;
  lastError: LeaseRecord['lastError'];
  /** Set when the partition stops here: a replay of history ends before its next chunk. */
  stopping: boolean;
  /** The replay of history (if any) and the start of the pull. */
  starting: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a consumer group's share of the partitions on this instance: partition
 * leases (leases.ts) decide which; for each partition it holds, the runner
 * opens a session (the service's own takeover: e.g. a projection claims the
 * checkpoint's epoch), recreates the partition's durable from the session's
 * checkpoint, and pulls it with a PartitionWorker (in order, retry in place,
 * cumulative ack after each applied batch). Every batch is applied only while
 * the lease is valid, and acked only if it still is afterwards.
 *
 * stop() (SIGTERM) drains: each worker finishes and acks the batch in hand,
 * the leases are deleted, and the other instances take the partitions at
 * their next round (a third of the lease TTL).
 */
export class PartitionRunner {
  readonly #running = new Map<number, Running>();
  readonly leases: PartitionLeases;

  constructor(private readonly o: PartitionRunnerOptions) {
    this.leases = new PartitionLeases({
      kv: o.kv, ttlMs: o.leaseTtlMs, group: o.group, instanceId: o.instanceId, partitions: o.partitions, log: o.log, ops: o.ops ?? null,
      handlers: {
        acquired: (p, epoch) => this.#start(p, epoch),
        stop: (p, why) => this.#stop(p, why),
        report: (p) => {
          const r = this.#running.get(p);
          return r ? { applied: r.applied, events: r.events, lastError: r.lastError } : {};
        },
      },
    });
  }

  async start(): Promise<void> {
    await this.leases.start();
  }

  /** The partitions this instance applies now. */
  owned(): number[] {
    return [...this.#running.keys()].sort((a, b) => a - b);
  }

  /** The last stream sequence applied per partition held. */
  applied(): Map<number, number> {
    return new Map([...this.#running].map(([p, r]) => [p, r.applied]));
  }

  async #start(p: number, epoch: number): Promise<void> {
    const session = await this.o.open(p, epoch);
    const run: Running = { worker: undefined, session, applied: session.startAfter ?? 0, events: 0, lastError: null, stopping: false, starting: Promise.resolve() };
    this.#running.set(p, run);
    if (this.o.history && session.startAfter !== undefined) {
      // In the background: a replay may take long, and the lease rounds and the other partitions go on meanwhile.
      run.starting = this.#replayThenPull(p, epoch, run);
      return;
    }
    run.starting = this.#pull(p, epoch, run, session.startAfter);
    try {
      await run.starting;
    } catch (err) {
      this.#running.delete(p);
      throw err;
    }
  }

  /** Creates the partition's durable after `after` and pulls it. */
  async #pull(p: number, epoch: number, run: Running, after: number | undefined, replayed?: number): Promise<void> {
    const { jsm, js, log } = this.o;
    const spec = { stream: this.o.stream, durable: this.o.durable(p), filterSubject: this.o.filterSubject(p) };
    await provisionDurable(jsm, spec, after);
    const handle = async (msgs: readonly JsMsg[]): Promise<void> => {
      if (!this.leases.valid(p)) throw this.#lost(p, new LeaseLostError(p));
      try {
        const events = await run.session.handle(msgs);
        run.events += typeof events === 'number' ? events : msgs.length;
        run.lastError = null;
      } catch (err) {
        run.lastError = { message: String((err as Error)?.message ?? err).slice(0, 500), at: new Date().toISOString() };
        if (err instanceof FencedError) throw this.#lost(p, err);
        throw err;
      }
      // Paused past the lease while applying: a newer owner may have the partition; no ack from here.
      if (!this.leases.valid(p)) throw this.#lost(p, new LeaseLostError(p));
    };
    const worker = new PartitionWorker({
      js, stream: spec.stream, durable: spec.durable, batchSize: this.o.batchSize, log, handle,
      // Deliveries lost on the way: the durable starts over after the last applied message (while the lease holds).
      reset: async (afterSeq) => {
        if (!this.leases.valid(p)) throw new LeaseLostError(p);
        await provisionDurable(jsm, spec, afterSeq);
      },
      onApplied: (seq) => void (run.applied = seq),
    });
    await worker.start();
    run.worker = worker;
    log.info({ group: this.o.group, partition: p, epoch, from: after ?? 'ack floor', ...(replayed !== undefined ? { replayed } : {}) }, 'partition running here');
  }

  /** Applies the partition's history after its checkpoint, then pulls the stream after what it applied; retried in place until it succeeds or the partition stops here. */
  async #replayThenPull(p: number, epoch: number, run: Running): Promise<void> {
    for (let delay = 250, failures = 0; !run.stopping; delay = Math.min(delay * 2, 5000), failures++) {
      try {
        const replayed = await this.#replay(p, run);
        if (run.stopping) return;
        await this.#pull(p, epoch, run, run.applied, replayed);
        return;
      } catch (err) {
        if (run.stopping) return;
        if (err instanceof FencedError || err instanceof LeaseLostError) {
          this.#lost(p, err);
          return;
        }
        run.lastError = { message: String((err as Error)?.message ?? err).slice(0, 500), at: new Date().toISOString() };
        if (failures === 0) this.o.log.warn({ err: (err as Error)?.message ?? String(err), code: (err as { code?: unknown })?.code, group: this.o.group, partition: p, applied: run.applied },
          'partition stalled: replaying its history or starting its pull failed; retrying with backoff');
        await sleep(delay);
      }
    }
  }

  /** Feeds the history after the checkpoint to the session, chunk by chunk, while the lease holds. Returns how many messages. */
  async #replay(p: number, run: Running): Promise<number> {
    let n = 0;
    for await (const chunk of this.o.history!(p, run.applied)) {
      if (run.stopping) break;
      const last = chunk[chunk.length - 1];
      if (!last) continue;
      if (!this.leases.valid(p)) throw new LeaseLostError(p);
      const events = await run.session.handle(chunk);
      if (!this.leases.valid(p)) throw new LeaseLostError(p);
      run.applied = Math.max(run.applied, last.seq);
      run.events += typeof events === 'number' ? events : chunk.length;
      run.lastError = null;
      n += chunk.length;
    }
    if (n > 0) this.o.log.info({ group: this.o.group, partition: p, messages: n, through: run.applied }, 'partition history replayed; the stream follows');
    return n;
  }

  /** Stops the partition from the lease's side (the worker itself is stopped outside its own batch). */
  #lost(p: number, err: Error): Error {
    setImmediate(() => this.leases.lose(p, err.message));
    return err;
  }

  async #stop(p: number, why: 'released' | 'lost'): Promise<void> {
    const r = this.#running.get(p);
    if (!r) return;
    this.#running.delete(p);
    r.stopping = true;
    // A replay stops before its next chunk; a pull being started is started, then stopped.
    await r.starting.catch(() => undefined);
    // Released: the batch in hand finishes and is acked. Lost: the lease checks around each batch refuse to
    // commit or ack anything more, so stopping waits for nothing that could still land.
    await r.worker?.stop();
    await r.session.close?.();
    this.o.log.info({ group: this.o.group, partition: p, why, applied: r.applied }, why === 'released' ? 'partition drained and released' : 'partition stopped (lease lost)');
  }

  /** Drains every partition and leaves the group (SIGTERM). */
  async stop(): Promise<void> {
    await this.leases.stop();
  }
}
