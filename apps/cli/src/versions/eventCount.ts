/**
 * Events a consumer group handled since a point in time, from what its
 * instances publish with each lease renewal (`events` under each lease epoch,
 * every third of the lease TTL): a partition that moves starts a new count
 * under a new epoch, which is added, never subtracted.
 */
import type { KV } from '@nats-io/kv';
import { LEASE_KEYS } from '@farmbrain/contracts';
import type { LeaseRecord } from '@farmbrain/projection';

export class EventCount {
  readonly #seen = new Map<number, { epoch: number; events: number }>();
  #total = 0;

  constructor(private readonly kv: KV | undefined, private readonly group: string, private readonly partitions: number) {}

  /** Reads the leases and returns the events handled since the first call. */
  async read(): Promise<number> {
    if (!this.kv) return 0;
    const entries = await Promise.all(Array.from({ length: this.partitions }, (_, p) => this.kv!.get(LEASE_KEYS.lease(this.group, p)).catch(() => null)));
    entries.forEach((e, p) => {
      if (!e || e.operation !== 'PUT') return;
      let rec: LeaseRecord;
      try {
        rec = e.json<LeaseRecord>();
      } catch {
        return;
      }
      const events = typeof rec.events === 'number' ? rec.events : 0;
      const prev = this.#seen.get(p);
      if (prev && prev.epoch === rec.epoch) this.#total += Math.max(0, events - prev.events);
      else this.#total += events;
      this.#seen.set(p, { epoch: rec.epoch, events });
    });
    return this.#total;
  }
}
