/**
 * How far a consumer group (a projection version's durables) is behind the
 * canonical stream: pending per partition, read from JetStream.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { isNotFound } from '@farmbrain/platform';

export interface GroupLag {
  /** Partitions whose durable exists (an instance took the partition over). */
  running: number;
  partitions: number;
  /** Messages not yet applied and acked, over the partitions that run. */
  pending: number;
  /** The stream's last sequence (what "caught up" means now). */
  head: number;
  /** Messages in the stream. */
  messages: number;
}

export async function groupLag(jsm: JetStreamManager, stream: string, durable: (p: number) => string, partitions: number): Promise<GroupLag> {
  const info = await jsm.streams.info(stream);
  let running = 0;
  let pending = 0;
  await Promise.all(Array.from({ length: partitions }, async (_, p) => {
    try {
      const ci = await jsm.consumers.info(stream, durable(p));
      running++;
      pending += ci.num_pending + ci.num_ack_pending;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }));
  return { running, partitions, pending, head: info.state.last_seq, messages: info.state.messages };
}

/** Caught up: every partition runs and at most `slack` messages (what arrived meanwhile) are pending. */
export const caughtUp = (l: GroupLag, slack = 0): boolean => l.running === l.partitions && l.pending <= slack;
