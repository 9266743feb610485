/**
 * How far consumers are behind their streams, read from JetStream: one place
 * for `farmbrain status`/`versions` (apps/cli), the analytics alerts and the
 * dashboard's overview.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { parseDurable, type Names } from '@farmbrain/contracts';
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

/** The lag of one consumer group (a projection version's durables `durable(p)`) on `stream`. */
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

/** The lag of each consumer group of a namespace. */
export interface ConsumerGroupLag {
  /** The group (`ingest`, `tiering_v1`, `analytics_v1`, ...: the durables' name before `_p<n>`). */
  group: string;
  stream: 'ingress' | 'events';
  /** Durables of the group (partitions taken over at least once). */
  durables: number;
  /** Pending plus delivered-unacked messages, summed over its durables (what `farmbrain status` calls lag). */
  pending: number;
}

/**
 * Every durable consumer group on the namespace's ingress and events streams
 * with its lag, from the durables' consumer info. A stream that does not exist
 * (yet) has no groups.
 */
export async function readConsumerLags(jsm: JetStreamManager, n: Pick<Names, 'ingressStream' | 'eventsStream'>): Promise<ConsumerGroupLag[]> {
  const out = new Map<string, ConsumerGroupLag>();
  for (const [streamName, stream] of [[n.ingressStream, 'ingress'], [n.eventsStream, 'events']] as const) {
    try {
      for await (const ci of jsm.consumers.list(streamName)) {
        if (!ci.config.durable_name) continue;
        const group = parseDurable(ci.name)?.group ?? ci.name;
        const key = `${stream}:${group}`;
        const g = out.get(key) ?? { group, stream, durables: 0, pending: 0 };
        g.durables++;
        g.pending += ci.num_pending + ci.num_ack_pending;
        out.set(key, g);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return [...out.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group));
}
