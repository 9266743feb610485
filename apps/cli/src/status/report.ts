/**
 * `farmbrain status` as a pure function: the facts fetched from JetStream (the
 * consumers), the lease bucket (owners, members) and Postgres (projection
 * checkpoints) in, one row per consumer group and partition out.
 */
import { consumerGroup, LEASE_KEYS, parseDurable } from '@farmbrain/contracts';

/** A durable pull consumer of the ingress or events stream. */
export interface ConsumerFact {
  stream: 'ingress' | 'events';
  /** The durable name: `<group>_p<partition>`. */
  durable: string;
  numPending: number;
  numAckPending: number;
  /** The stream sequence every message up to which is acked. */
  ackFloor: number;
}

/** A key of the lease bucket (the latest value; deleted and expired keys are absent). */
export interface LeaseFact {
  key: string;
  /** The value as stored (JSON when a farmbrain instance wrote it). */
  value: string;
  revision: number;
  /** When this value was written (the latest renewal), ISO. */
  writtenAt: string;
}

/** A row of `<schema>.projection_checkpoints`. */
export interface CheckpointFact {
  projection: string;
  partition: number;
  lastSeq: number;
  ingressSeq: number | null;
  epoch: number | null;
  updatedAt: string | null;
}

export interface StatusFacts {
  namespace: string;
  partitions: number;
  /** When the facts were fetched, ISO. */
  at: string;
  /** The lease bucket's name. */
  leaseBucket: string;
  consumers: ConsumerFact[];
  /** null: there is no lease bucket (yet). */
  leases: LeaseFact[] | null;
  /** null: there is no checkpoint table (yet), or Postgres did not answer (a warning says which). */
  checkpoints: CheckpointFact[] | null;
  /** What could not be fetched, said for a person. */
  warnings: string[];
  /** Each projection's versions (blue/green) and which one readers use; absent when no registry exists yet. */
  versions?: ProjectionVersions[];
}

export interface ProjectionVersions {
  service: string;
  live: string;
  versions: { name: string; state: string; schema: string }[];
}

export interface LastError {
  message: string;
  at: string | null;
}

export interface PartitionStatus {
  partition: number;
  /** The durable consumer's name, and whether it exists. */
  durable: string;
  consumer: boolean;
  /** The lease owner (an instance id), null when no instance holds the lease (or leases are unknown). */
  owner: string | null;
  /** The owner's fencing token. */
  epoch: number | null;
  /** Since when the owner holds it, ISO. */
  since: string | null;
  /** When the owner last renewed its lease, ISO. */
  renewedAt: string | null;
  /** Messages not yet applied: pending + delivered but not acked. null without a consumer. */
  lag: number | null;
  numPending: number | null;
  numAckPending: number | null;
  ackFloor: number | null;
  /** The last stream sequence the owner applied (from its lease). */
  applied: number | null;
  /** The projection's checkpoint (last applied stream sequence), for projection groups. */
  checkpoint: number | null;
  /** The ingress sequence the checkpoint reached (the consistency watermark). */
  checkpointIngressSeq: number | null;
  checkpointEpoch: number | null;
  checkpointAt: string | null;
  lastError: LastError | null;
}

export interface MemberStatus {
  id: string;
  host: string | null;
  pid: number | null;
  startedAt: string | null;
  ops: string | null;
  /** When it last said it is alive, ISO. */
  seenAt: string;
  /** The partitions it owns. */
  owns: number[];
}

export interface GroupStatus {
  group: string;
  /** The stream it consumes, when known. */
  stream: 'ingress' | 'events' | null;
  /** The projection (e.g. `tiering.v1`) whose checkpoints are this group's. */
  projection: string | null;
  members: MemberStatus[];
  partitions: PartitionStatus[];
  /** Sum of the partitions' lag. */
  lag: number;
}

export interface StatusReport {
  namespace: string;
  partitions: number;
  at: string;
  leaseBucket: string;
  /** false: no lease bucket (owners show as null). */
  leases: boolean;
  groups: GroupStatus[];
  versions: ProjectionVersions[];
  warnings: string[];
}


const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function lastErrorOf(v: unknown): LastError | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v ? { message: v, at: null } : null;
  if (typeof v === 'object') {
    const e = v as { message?: unknown; at?: unknown };
    const message = str(e.message);
    return message ? { message, at: str(e.at) } : null;
  }
  return null;
}

interface GroupAcc {
  stream: 'ingress' | 'events' | null;
  projection: string | null;
  consumers: Map<number, ConsumerFact>;
  leases: Map<number, { v: Record<string, unknown> | undefined; f: LeaseFact }>;
  members: Map<string, { v: Record<string, unknown> | undefined; f: LeaseFact }>;
  checkpoints: Map<number, CheckpointFact>;
}

/** Ingest's group reads the ingress stream; every other (projections) the events stream. */
const streamOfGroup = (group: string): 'ingress' | 'events' => (group === 'ingest' ? 'ingress' : 'events');

export function statusReport(f: StatusFacts): StatusReport {
  const warnings = [...f.warnings];
  const groups = new Map<string, GroupAcc>();
  const acc = (group: string): GroupAcc => {
    let g = groups.get(group);
    if (!g) {
      g = { stream: null, projection: null, consumers: new Map(), leases: new Map(), members: new Map(), checkpoints: new Map() };
      groups.set(group, g);
    }
    return g;
  };
  for (const c of f.consumers) {
    const d = parseDurable(c.durable);
    if (!d) continue; // not a partition consumer (an ephemeral one, another tool's)
    const g = acc(d.group);
    g.stream ??= c.stream;
    g.consumers.set(d.partition, c);
  }
  for (const l of f.leases ?? []) {
    const k = LEASE_KEYS.parse(l.key);
    const v = parseJson(l.value);
    if (!v) warnings.push(`lease key ${l.key} holds no JSON object: ${JSON.stringify(l.value.slice(0, 60))}`);
    if (k && 'partition' in k) acc(k.group).leases.set(k.partition, { v, f: l });
    else if (k) acc(k.group).members.set(k.member, { v, f: l });
  }
  for (const cp of f.checkpoints ?? []) {
    const g = acc(consumerGroup(cp.projection));
    g.projection ??= cp.projection;
    g.checkpoints.set(cp.partition, cp);
  }

  const beyond = new Set<string>();
  const out: GroupStatus[] = [];
  for (const [group, g] of groups) {
    const seen = new Set<number>([...g.consumers.keys(), ...g.leases.keys(), ...g.checkpoints.keys()]);
    for (const p of seen) if (p >= f.partitions) beyond.add(`${group} p${p}`);
    const parts = [...new Set([...Array.from({ length: f.partitions }, (_, i) => i), ...seen])].sort((a, b) => a - b);
    const partitions: PartitionStatus[] = parts.map((p) => {
      const c = g.consumers.get(p);
      const l = g.leases.get(p);
      const cp = g.checkpoints.get(p);
      const v = l?.v;
      return {
        partition: p,
        durable: `${group}_p${p}`,
        consumer: c !== undefined,
        owner: l ? (str(v?.owner) ?? '?') : null,
        epoch: num(v?.epoch) ?? null,
        since: str(v?.since),
        renewedAt: l?.f.writtenAt ?? null,
        lag: c ? c.numPending + c.numAckPending : null,
        numPending: c?.numPending ?? null,
        numAckPending: c?.numAckPending ?? null,
        ackFloor: c?.ackFloor ?? null,
        applied: num(v?.applied),
        checkpoint: cp?.lastSeq ?? null,
        checkpointIngressSeq: cp?.ingressSeq ?? null,
        checkpointEpoch: cp?.epoch ?? null,
        checkpointAt: cp?.updatedAt ?? null,
        lastError: lastErrorOf(v?.lastError),
      };
    });
    const members: MemberStatus[] = [...g.members].map(([id, { v, f: lf }]) => ({
      id: str(v?.id) ?? id,
      host: str(v?.host),
      pid: num(v?.pid),
      startedAt: str(v?.startedAt),
      ops: str(v?.ops),
      seenAt: lf.writtenAt,
      owns: partitions.filter((p) => p.owner === (str(v?.id) ?? id)).map((p) => p.partition),
    })).sort((a, b) => a.id.localeCompare(b.id));
    out.push({
      group,
      stream: g.stream ?? streamOfGroup(group),
      projection: g.projection,
      members,
      partitions,
      lag: partitions.reduce((s, p) => s + (p.lag ?? 0), 0),
    });
  }
  // Pipeline order: what reads the ingress stream first, then the projections, by name.
  out.sort((a, b) => Number(a.stream !== 'ingress') - Number(b.stream !== 'ingress') || a.group.localeCompare(b.group));
  if (beyond.size > 0) {
    warnings.push(`found partitions beyond FB_PARTITIONS=${f.partitions} (${[...beyond].slice(0, 4).join(', ')}${beyond.size > 4 ? ', …' : ''}): `
      + 'set FB_PARTITIONS to the deployment\'s');
  }
  if (f.leases === null) warnings.push(`no lease bucket ${f.leaseBucket} yet: partition owners are unknown (-)`);
  if (out.length === 0) warnings.push(`no consumer group found in namespace ${f.namespace}: has the stack run in it? (farmbrain start; FB_NAMESPACE picks the namespace)`);
  return { namespace: f.namespace, partitions: f.partitions, at: f.at, leaseBucket: f.leaseBucket, leases: f.leases !== null, groups: out, versions: f.versions ?? [], warnings };
}
