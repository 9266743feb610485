import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV, KvEntry } from '@nats-io/kv';
import { LEASE_KEYS } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import { assignedTo } from './assignment.js';
import { openBucket } from '@farmbrain/platform';

/** What a partition lease says (JSON value of `<group>.p.<partition>`). */
export interface LeaseRecord {
  owner: string;
  /** The fencing token: the KV revision at which the owner took the lease. */
  epoch: number;
  since: string;
  /** The last stream sequence the owner applied (status). */
  applied?: number;
  /** Events the owner handled under this lease (progress: events/s). */
  events?: number;
  lastError?: { message: string; at: string } | null;
}

/** An instance's heartbeat (JSON value of `<group>.m.<instanceId>`). */
export interface MemberRecord {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  /** Where its ops endpoint answers, when it has one. */
  ops?: string | null;
}

const { lease: leaseKey, member: memberKey } = LEASE_KEYS;

/**
 * Opens the namespace's lease bucket, creating it with `ttlMs` as its TTL if it
 * does not exist. The TTL is the bucket's (the stream's max_age, kept by the
 * NATS server's clock, so instances on different hosts need no synchronized
 * clocks); an existing bucket's TTL wins and is returned.
 */
export async function openLeaseBucket(nc: NatsConnection, bucket: string, ttlMs: number): Promise<{ kv: KV; ttlMs: number }> {
  const kv = await openBucket(nc, bucket, { ttl: ttlMs, history: 1 });
  const status = await kv.status();
  return { kv, ttlMs: status.ttl > 0 ? status.ttl : ttlMs };
}

/** What the lease holder does with its partitions. */
export interface LeaseHandlers {
  /** Starts applying `partition` under `epoch`. A rejection gives the lease back. */
  acquired(partition: number, epoch: number): Promise<void>;
  /**
   * Stops applying `partition`. `released`: it moves to another instance (finish
   * the batch in hand and ack it first); `lost`: the lease is gone already (the
   * instance was cut off or paused past it): stop at once, commit and ack nothing more.
   */
  stop(partition: number, why: 'released' | 'lost'): Promise<void>;
  /** Facts published with each renewal, for `farmbrain status`. */
  report?(partition: number): Pick<LeaseRecord, 'applied' | 'events' | 'lastError'>;
}

export interface PartitionLeasesOptions {
  kv: KV;
  ttlMs: number;
  /** The consumer group (a service, or a projection version) whose partitions these are. */
  group: string;
  instanceId: string;
  partitions: number;
  log: Logger;
  handlers: LeaseHandlers;
  /** Where this instance's ops endpoint answers (status). */
  ops?: string | null;
}

interface Held {
  epoch: number;
  revision: number;
  since: string;
  /** performance.now() when the last successful write of the lease was sent: the server's TTL runs from later than that. */
  confirmedAt: number;
  phase: 'starting' | 'running' | 'releasing' | 'lost';
  /** KV writes of this lease, one at a time. */
  op: Promise<unknown>;
}

const isLive = (e: KvEntry | null): e is KvEntry => e !== null && e.operation === 'PUT';

/**
 * Partition leases of one consumer group on NATS KV (JetStream 2.9 has no
 * consumer pinning): each instance heartbeats a member key and, every third of
 * the TTL, computes the partitions it should own (assignment.ts), renews the
 * leases it holds by compare-and-set on their revision, releases those that
 * moved to another instance (after draining them), and creates leases for its
 * free partitions. A dead instance's keys expire with the TTL, so its
 * partitions are taken over within about TTL + TTL/3.
 *
 * A lease's epoch is the KV revision at which it was created: it grows with
 * every new owner, and the checkpoint write of each batch checks it (fencing).
 * `valid()` says whether this instance may still apply a partition: the lease
 * was confirmed within the TTL (less a margin) by the local monotonic clock,
 * which keeps running while a process is stopped (SIGSTOP), so an instance
 * that resumes after its lease ran out stops before it applies anything.
 */
export class PartitionLeases {
  readonly #held = new Map<number, Held>();
  readonly #member: MemberRecord;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;
  #rounds = 0;
  /** Partitions being started or stopped (their handlers' promises), so stop() can wait for them. */
  readonly #tasks = new Set<Promise<unknown>>();

  constructor(private readonly o: PartitionLeasesOptions) {
    this.#member = { id: o.instanceId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString(), ops: o.ops ?? null };
  }

  get intervalMs(): number {
    return Math.max(200, Math.floor(this.o.ttlMs / 3));
  }

  /** How long a confirmed lease is trusted locally: the TTL less a margin for the renewal's round trip. */
  get #trustMs(): number {
    return Math.max(this.o.ttlMs / 2, this.o.ttlMs - 1000);
  }

  /** Joins the group (the first round of claims, and the takeovers it led to, finish before it returns) and keeps the leases from then on. */
  async start(): Promise<void> {
    await this.tick();
    await Promise.all([...this.#tasks]);
    this.#timer = setInterval(() => void this.tick(), this.intervalMs).unref();
  }

  /** Whether this instance may apply `partition` now. */
  valid(partition: number): boolean {
    const h = this.#held.get(partition);
    return !!h && (h.phase === 'starting' || h.phase === 'running' || h.phase === 'releasing') && performance.now() - h.confirmedAt < this.#trustMs;
  }

  epoch(partition: number): number | undefined {
    return this.#held.get(partition)?.epoch;
  }

  /** Partitions this instance holds (starting, running or draining). */
  owned(): number[] {
    return [...this.#held].filter(([, h]) => h.phase !== 'lost').map(([p]) => p).sort((a, b) => a - b);
  }

  /** Gives up `partition` at once (its writes were refused: a newer owner has it). */
  lose(partition: number, why: string): void {
    const h = this.#held.get(partition);
    if (!h || h.phase === 'lost') return;
    this.o.log.warn({ group: this.o.group, partition, epoch: h.epoch, why }, 'partition lease lost; this instance stops applying it');
    h.phase = 'lost';
    this.#track(this.o.handlers.stop(partition, 'lost').catch((err: unknown) => this.o.log.error({ err, partition }, 'stopping a lost partition failed'))
      .finally(() => this.#held.get(partition) === h && this.#held.delete(partition)));
  }

  /** One round: heartbeat, read the group, renew, release, claim. Rounds never overlap. */
  tick(): Promise<void> {
    this.#ticking = this.#ticking.then(() => this.#round()).catch((err: unknown) => {
      this.o.log.warn({ err: (err as Error)?.message ?? String(err), group: this.o.group }, 'lease round failed (NATS unavailable?); retried next round');
    });
    return this.#ticking;
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    const { kv, group, instanceId, partitions } = this.o;
    const roundAt = performance.now();
    // A lease not confirmed in time is over, whatever the server says: the process was stopped or cut off.
    for (const [p, h] of this.#held) {
      if ((h.phase === 'running' || h.phase === 'starting') && roundAt - h.confirmedAt >= this.#trustMs) this.lose(p, 'not renewed in time (the process was paused or NATS was unreachable)');
    }
    await kv.put(memberKey(group, instanceId), JSON.stringify(this.#member));
    const members: string[] = [];
    for await (const k of await kv.keys(LEASE_KEYS.members(group))) members.push(LEASE_KEYS.memberOf(group, k));
    const mine = assignedTo(instanceId, members, partitions);
    const entries = await Promise.all(Array.from({ length: partitions }, (_, p) => kv.get(leaseKey(group, p))));
    const work: Promise<unknown>[] = [];
    for (let p = 0; p < partitions; p++) {
      const e = entries[p] ?? null;
      const h = this.#held.get(p);
      if (h && h.phase !== 'lost') {
        if (!isLive(e) || e.revision !== h.revision) {
          // Our write may still be in flight (a renewal racing this read): only a different owner means it is gone.
          if (isLive(e) && parse(e)?.owner === instanceId) continue;
          this.lose(p, isLive(e) ? `taken over by ${parse(e)?.owner ?? 'another instance'}` : 'expired');
          continue;
        }
        if (!mine.has(p) && h.phase === 'running') this.#release(p, h);
        work.push(this.#renew(p, h));
      } else if (!h && mine.has(p) && !isLive(e)) {
        work.push(this.#claim(p));
      } else if (!h && mine.has(p) && this.#rounds === 0 && isLive(e) && parse(e)?.owner === instanceId) {
        // Left by this instance's previous process (a crash, then a restart under the same FB_INSTANCE_ID):
        // taken back at once, under a new epoch, instead of waiting for it to expire.
        work.push(this.#claim(p, e.revision));
      }
    }
    await Promise.all(work);
    this.#rounds++;
  }

  #record(p: number, h: Held): string {
    const rec: LeaseRecord = { owner: this.o.instanceId, epoch: h.epoch, since: h.since, ...this.o.handlers.report?.(p) };
    return JSON.stringify(rec);
  }

  /** Runs `fn` after the lease's previous KV write. */
  #serial<T>(h: Held, fn: () => Promise<T>): Promise<T> {
    const next = h.op.then(fn, fn);
    h.op = next.catch(() => undefined);
    return next;
  }

  #renew(p: number, h: Held): Promise<void> {
    return this.#serial(h, async () => {
      if (h.phase === 'lost' || this.#held.get(p) !== h) return;
      const sentAt = performance.now();
      try {
        h.revision = await this.o.kv.update(leaseKey(this.o.group, p), this.#record(p, h), h.revision);
        h.confirmedAt = sentAt;
      } catch (err) {
        this.lose(p, `renewal refused (${(err as Error)?.message ?? String(err)})`);
      }
    });
  }

  /** Creates the lease (or, given the revision of one this instance left behind, replaces it). */
  async #claim(p: number, previous?: number): Promise<void> {
    const sentAt = performance.now();
    const since = new Date().toISOString();
    const value = JSON.stringify({ owner: this.o.instanceId, epoch: 0, since } satisfies LeaseRecord);
    let revision: number;
    try {
      revision = previous === undefined ? await this.o.kv.create(leaseKey(this.o.group, p), value) : await this.o.kv.update(leaseKey(this.o.group, p), value, previous);
    } catch {
      return; // Another instance took it first.
    }
    const h: Held = { epoch: revision, revision, since, confirmedAt: sentAt, phase: 'starting', op: Promise.resolve() };
    this.#held.set(p, h);
    this.o.log.info({ group: this.o.group, partition: p, epoch: revision }, 'partition lease taken');
    this.#track(this.o.handlers.acquired(p, revision).then(
      () => {
        if (h.phase === 'starting') h.phase = 'running';
      },
      (err: unknown) => {
        if (h.phase === 'lost') return;
        this.o.log.warn({ err: (err as Error)?.message ?? String(err), group: this.o.group, partition: p }, 'partition could not be started; lease given back (retried next round)');
        h.phase = 'releasing';
        return this.#giveBack(p, h);
      },
    ));
    // Record the epoch in the lease right away (status shows it).
    await this.#renew(p, h);
  }

  /** Drains the partition (the handler finishes and acks its batch), then deletes the lease so its new owner can take it. */
  #release(p: number, h: Held): void {
    h.phase = 'releasing';
    this.o.log.info({ group: this.o.group, partition: p }, 'partition moves to another instance; draining it');
    this.#track(this.o.handlers.stop(p, 'released')
      .catch((err: unknown) => this.o.log.error({ err, partition: p }, 'draining a partition failed'))
      .then(() => this.#giveBack(p, h)));
  }

  #giveBack(p: number, h: Held): Promise<void> {
    return this.#serial(h, async () => {
      if (this.#held.get(p) === h) this.#held.delete(p);
      if (h.phase === 'lost') return;
      h.phase = 'lost';
      await this.o.kv.delete(leaseKey(this.o.group, p), { previousSeq: h.revision }).catch(() => undefined);
    });
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /**
   * Leaves the group: stops the rounds, drains every partition (each handler
   * finishes and acks its batch), deletes the leases and the member key, so
   * the other instances take the partitions over at their next round.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#ticking;
    await Promise.all([...this.#tasks]);
    await Promise.all([...this.#held].map(async ([p, h]) => {
      if (h.phase === 'lost') return;
      h.phase = 'releasing';
      await this.o.handlers.stop(p, 'released').catch((err: unknown) => this.o.log.error({ err, partition: p }, 'draining a partition failed'));
      await this.#giveBack(p, h);
    }));
    await this.o.kv.delete(memberKey(this.o.group, this.o.instanceId)).catch(() => undefined);
  }
}

function parse(e: KvEntry): LeaseRecord | undefined {
  try {
    return e.json<LeaseRecord>();
  } catch {
    return undefined;
  }
}
