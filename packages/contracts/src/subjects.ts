/**
 * Names of every stream, subject, consumer, key prefix and schema, derived from
 * one namespace. Tests run in their own namespace, so runs never collide.
 */

export const AGENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

export interface Names {
  namespace: string;
  partitions: number;
  /** Where agents publish (SDK, gateway): `<ns>.in.<partition>.<agentId>`. */
  ingressStream: string;
  /** Validated events every projection consumes: `<ns>.ev.<partition>.<agentId>`. */
  eventsStream: string;
  /** Invalid events with their reason: `<ns>.dlq.<partition>.<agentId>`. */
  deadLetterStream: string;
  ingressSubject(agentId: string): string;
  eventsSubject(agentId: string): string;
  /**
   * The canonical subject of an ingress message's subject: same partition token,
   * same agent token. For a valid message that is `eventsSubject(agentId)`; for one
   * naming the wrong partition it keeps the ingress partition, where a consistency
   * token of that write waits.
   */
  canonicalOf(ingressSubject: string): string;
  deadLetterSubject(agentId: string): string;
  ingressFilter(partition: number): string;
  /**
   * Exactly what the ingress stream captures: `ingressFilter(p)` for p in
   * 0..partitions-1 (decimal, no padding), one per ingest consumer. JetStream
   * refuses any other `<ns>.in.…` subject (the publisher sees "no responders"),
   * so nothing is stored that no consumer reads.
   */
  ingressSubjects(): string[];
  eventsFilter(partition: number): string;
  /** Durable consumer name of a consumer group (a service, or a projection version) on a partition. */
  durable(group: string, partition: number): string;
  /**
   * NATS KV bucket of the partition leases and the instance heartbeats of every
   * consumer group (its stream: `KV_<leaseBucket>`).
   */
  leaseBucket: string;
  /** NATS KV bucket of the projection registry: each service's projection versions and the live one (kept forever). */
  registryBucket: string;
  /** NATS KV bucket of the memory keys (crypto-shredding: erasing a memory purges its key). */
  keysBucket: string;
  /** Redis key prefix, ending with ':'. */
  redisPrefix: string;
  /** Postgres schema. */
  pgSchema: string;
}

/** FNV-1a 32-bit: stable across languages, so any publisher computes the same partition. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const partitionOf = (agentId: string, partitions: number): number => fnv1a32(agentId) % partitions;

/** The agent id a subject was published for (its last token). */
/** A consumer group's name from a service or projection name (`tiering.v1` → `tiering_v1`): safe in consumer names and KV keys. */
export const consumerGroup = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * Keys of a consumer group in the lease bucket (Names.leaseBucket): one lease
 * per partition (`<group>.p.<partition>`) and one heartbeat per instance
 * (`<group>.m.<instanceId>`). Every reader and writer of the bucket uses these.
 */
export const LEASE_KEYS = {
  lease: (group: string, partition: number): string => `${group}.p.${partition}`,
  member: (group: string, instanceId: string): string => `${group}.m.${instanceId}`,
  /** Filter of every member key of the group (the id is what follows it). */
  members: (group: string): string => `${group}.m.*`,
  /** Filter of every key of the group. */
  all: (group: string): string => `${group}.>`,
  /** The instance id of a member key. */
  memberOf: (group: string, key: string): string => key.slice(group.length + 3),
  /** What a key of the bucket is: a partition's lease, an instance's heartbeat, or neither. */
  parse(key: string): { group: string; partition: number } | { group: string; member: string } | undefined {
    const lease = /^(.+)\.p\.(\d{1,4})$/.exec(key);
    if (lease) return { group: lease[1]!, partition: Number(lease[2]) };
    const member = /^(.+)\.m\.(.+)$/.exec(key);
    return member ? { group: member[1]!, member: member[2]! } : undefined;
  },
} as const;

/** The consumer group and partition of a durable named by `Names.durable` (`<group>_p<n>`), or undefined. */
export function parseDurable(name: string): { group: string; partition: number } | undefined {
  const m = /^(.+)_p(\d{1,4})$/.exec(name);
  return m ? { group: m[1]!, partition: Number(m[2]) } : undefined;
}

export const agentOfSubject = (subject: string): string => subject.slice(subject.lastIndexOf('.') + 1);

export function names(namespace: string, partitions: number): Names {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`namespace '${namespace}' must match ${NAMESPACE_PATTERN} (lowercase letters, digits, _)`);
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new Error(`partitions must be an integer from 1 to 1024, got ${partitions}`);
  }
  const up = namespace.toUpperCase();
  const p = (agentId: string) => partitionOf(agentId, partitions);
  const ingressFilter = (n: number) => `${namespace}.in.${n}.*`;
  return {
    namespace,
    partitions,
    ingressStream: `${up}_INGRESS`,
    eventsStream: `${up}_EVENTS`,
    deadLetterStream: `${up}_DLQ`,
    ingressSubject: (a) => `${namespace}.in.${p(a)}.${a}`,
    eventsSubject: (a) => `${namespace}.ev.${p(a)}.${a}`,
    canonicalOf: (subject) => {
      const t = subject.split('.');
      return `${namespace}.ev.${t[t.length - 2]}.${t[t.length - 1]}`;
    },
    deadLetterSubject: (a) => `${namespace}.dlq.${p(a)}.${a}`,
    ingressFilter,
    ingressSubjects: () => Array.from({ length: partitions }, (_, n) => ingressFilter(n)),
    eventsFilter: (n) => `${namespace}.ev.${n}.*`,
    durable: (group, n) => `${group}_p${n}`,
    leaseBucket: `${namespace}_leases`,
    registryBucket: `${namespace}_projections`,
    keysBucket: `${namespace}_keys`,
    redisPrefix: `${namespace}:`,
    pgSchema: namespace,
  };
}

/** Headers farmbrain sets on messages besides Nats-Msg-Id. */
export const HEADERS = {
  reasonCode: 'Fb-Reason-Code',
  reason: 'Fb-Reason',
  eventId: 'Fb-Event-Id',
  originalSubject: 'Fb-Original-Subject',
  ingressSeq: 'Fb-Ingress-Seq',
  /** On a canonical message: how many events of its ingress message ingest dead-lettered (the body holds the rest, maybe none). */
  rejected: 'Fb-Rejected',
  /** On a canonical message: the id of the projection dead letter it replays (the projection applies it again). */
  replayOf: 'Fb-Replay-Of',
  /**
   * On an ingress message: its events are an import of an agent exported from another deployment
   * (farmbrain import). Ingest checks them as any other, except for how old they may be: they
   * happened when they happened.
   */
  imported: 'Fb-Imported',
  traceparent: 'traceparent',
} as const;
