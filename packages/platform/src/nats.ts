import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { Names } from '@farmbrain/contracts';
import { ServiceUnavailableError, START_HINTS } from './errors.js';

/** How every farmbrain connection behaves once connected: it reconnects forever. */
export const natsOptions = (url: string, name: string, timeoutMs: number) => ({
  servers: url,
  name,
  timeout: timeoutMs,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
});

/** Connects, failing fast with a ServiceUnavailableError (not a hang) when NATS is down (tests, tools; services use openNats). */
export async function connectNats(url: string, name: string, opts: { timeoutMs?: number } = {}): Promise<NatsConnection> {
  try {
    return await connect(natsOptions(url, name, opts.timeoutMs ?? 3000));
  } catch (err) {
    throw new ServiceUnavailableError('nats', url, START_HINTS.nats, { cause: err });
  }
}

export interface StreamSettings {
  replicas: number;
  /** Dedupe window for Nats-Msg-Id, ms. */
  duplicateWindowMs: number;
  /** How long the ingress stream keeps what agents published (a replay window for ingest). */
  ingressMaxAgeMs: number;
  deadLetterMaxAgeMs: number;
}

export const defaultStreamSettings = (): StreamSettings => ({
  replicas: 1,
  duplicateWindowMs: 10 * 60_000,
  ingressMaxAgeMs: 7 * 24 * 3600_000,
  deadLetterMaxAgeMs: 30 * 24 * 3600_000,
});

export function streamConfigs(n: Names, s: StreamSettings): (Partial<StreamConfig> & { name: string })[] {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: s.replicas,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
  return [
    // Exactly the partition subjects ingest consumes: JetStream refuses (no responders) anything
    // else under `<ns>.in.`, so an accepted message is always read, never stranded.
    { ...common, name: n.ingressStream, subjects: n.ingressSubjects(), max_age: nanos(s.ingressMaxAgeMs) },
    // The canonical log: kept forever (the archive service will page it out later).
    { ...common, name: n.eventsStream, subjects: [`${n.namespace}.ev.>`], max_age: 0 },
    { ...common, name: n.deadLetterStream, subjects: [`${n.namespace}.dlq.>`], max_age: nanos(s.deadLetterMaxAgeMs) },
  ];
}

/**
 * Creates the streams, or updates them to this config (an ingress stream of an
 * older version, capturing `<ns>.in.>`, is narrowed to the partition subjects).
 * Safe to run from every service at start, as long as they agree on FB_PARTITIONS.
 */
export async function provisionStreams(jsm: JetStreamManager, n: Names, s: StreamSettings = defaultStreamSettings()): Promise<void> {
  for (const cfg of streamConfigs(n, s)) {
    try {
      await jsm.streams.info(cfg.name);
      await jsm.streams.update(cfg.name, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (e) {
        // Another service won the race: fine.
        if (!/already in use|exists/i.test(String((e as Error).message))) throw e;
      }
    }
  }
}

export interface DurableSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** In-flight limit per consumer; bounds memory and redelivery bursts. */
  maxAckPending?: number;
  ackWaitMs?: number;
}

/**
 * Creates a durable pull consumer that acks cumulatively (AckPolicy.All) and
 * positions it just after the lower of its ack floor and `startAfter` (the
 * caller's own checkpoint, when it keeps one: a dropped store then replays).
 *
 * Why recreate at every start: after a crash, messages delivered to the dead
 * process stay "ack pending" until ack_wait, while later ones flow to the new
 * process; a cumulative ack of those would skip the earlier ones. Starting the
 * consumer from the checkpoint makes delivery resume exactly where applying stopped.
 */
export async function provisionDurable(jsm: JetStreamManager, spec: DurableSpec, startAfter?: number): Promise<void> {
  let floor = 0;
  try {
    const ci = await jsm.consumers.info(spec.stream, spec.durable);
    // A consumer that acked nothing since it was last recreated reports an ack floor of 0 (NATS 2.9):
    // it has still consumed everything before its own start sequence, so never fall back below that.
    const acked = Math.max(ci.ack_floor.stream_seq, (ci.config.opt_start_seq ?? 1) - 1);
    floor = Math.min(acked, startAfter ?? Number.POSITIVE_INFINITY);
    await jsm.consumers.delete(spec.stream, spec.durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await jsm.consumers.add(spec.stream, {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.All,
    ...(floor && floor > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 }
      : { deliver_policy: DeliverPolicy.All }),
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    max_ack_pending: spec.maxAckPending ?? 20_000,
    max_deliver: -1,
  });
}

export const isNotFound = (err: unknown): boolean =>
  /not found/i.test(String((err as Error)?.message)) || (err as { code?: unknown })?.code === 404;

export { jetstreamManager };
