/**
 * What `farmbrain status` reads: the partition consumers of the ingress and
 * events streams (JetStream), the lease bucket (NATS KV: owners and members)
 * and the projection checkpoints (Postgres). Only NATS is required; what else
 * does not answer becomes a warning.
 */
import { Kvm } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { names as makeNames, type Names } from '@farmbrain/contracts';
import { connectNats, createPool, isNotFound, jetstreamManager, quoteIdent, redactUrl, START_HINTS, sqlstateOf, type CommonConfig } from '@farmbrain/platform';
import { analyticsSchema } from '@farmbrain/analytics';
import { archiveSchema } from '@farmbrain/archive';
import { ProjectionRegistry } from '@farmbrain/projection';
import { CliError } from '../errors.js';
import type { CheckpointFact, ConsumerFact, LeaseFact, ProjectionVersions, StatusFacts } from './report.js';

export async function fetchStatusFacts(common: Pick<CommonConfig, 'natsUrl' | 'databaseUrl' | 'namespace' | 'partitions'>): Promise<StatusFacts> {
  const n = makeNames(common.namespace, common.partitions);
  const warnings: string[] = [];
  const nc = await connectNats(common.natsUrl, 'farmbrain-status', { timeoutMs: 2000 });
  try {
    // Projection versions (blue/green) keep their checkpoints in their own schemas, and so do the archive and analytics.
    const versions = await fetchVersions(nc, n);
    const schemas = [...new Set([n.pgSchema, ...versions.flatMap((v) => v.versions.map((x) => x.schema)), archiveSchema(n), analyticsSchema(n)])];
    const checkpoints = Promise.all(schemas.map((s) => fetchCheckpoints(common.databaseUrl, s, s === n.pgSchema ? warnings : [])))
      .then((all) => (all.every((x) => x === null) ? null : all.flatMap((x) => x ?? [])));
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    const consumers: ConsumerFact[] = [];
    let streams = 0;
    for (const [stream, kind] of [[n.ingressStream, 'ingress'], [n.eventsStream, 'events']] as const) {
      const found = await fetchConsumers(jsm, stream, kind);
      if (found) {
        streams++;
        consumers.push(...found);
      }
    }
    if (streams === 0) {
      throw new CliError('UNKNOWN_NAMESPACE', `namespace '${n.namespace}' has no streams on ${common.natsUrl} (${n.ingressStream}, ${n.eventsStream}): `
        + 'start the stack in it (farmbrain start), or set FB_NAMESPACE to the namespace it runs in');
    }
    const leases = await fetchLeases(nc, jsm, n.leaseBucket);
    return {
      namespace: n.namespace, partitions: n.partitions, at: new Date().toISOString(), leaseBucket: n.leaseBucket,
      consumers, leases, checkpoints: await checkpoints, warnings, versions,
    };
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function fetchConsumers(jsm: JetStreamManager, stream: string, kind: 'ingress' | 'events'): Promise<ConsumerFact[] | undefined> {
  const out: ConsumerFact[] = [];
  try {
    for await (const ci of jsm.consumers.list(stream)) {
      if (!ci.config.durable_name) continue;
      out.push({ stream: kind, durable: ci.name, numPending: ci.num_pending, numAckPending: ci.num_ack_pending, ackFloor: ci.ack_floor.stream_seq });
    }
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return out;
}

/** Every live key of the lease bucket, or null when the bucket does not exist. */
async function fetchLeases(nc: NatsConnection, jsm: JetStreamManager, bucket: string): Promise<LeaseFact[] | null> {
  try {
    await jsm.streams.info(`KV_${bucket}`);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const kv = await new Kvm(nc).open(bucket);
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  const out: LeaseFact[] = [];
  for (const key of keys.sort()) {
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') continue;
    out.push({ key, value: e.string(), revision: e.revision, writtenAt: e.created.toISOString() });
  }
  return out;
}

/** The projection registry's entries (read only: no bucket is created); none when there is no registry yet. */
async function fetchVersions(nc: NatsConnection, n: Names): Promise<ProjectionVersions[]> {
  const registry = await ProjectionRegistry.existing(nc, n);
  return (await registry?.services() ?? []).map((s) => ({
    service: s.service, live: s.live, versions: Object.values(s.versions).map((x) => ({ name: x.name, state: x.state, schema: x.schema })),
  }));
}

async function fetchCheckpoints(url: string, schema: string, warnings: string[]): Promise<CheckpointFact[] | null> {
  const pool = createPool(url, schema, { max: 1, name: 'farmbrain-status', connectTimeoutMs: 2000 });
  try {
    // to_jsonb: whichever columns the table has (epoch is newer than the others). Schema-qualified: never public's.
    const r = await pool.query<{ r: Record<string, unknown> }>(`SELECT to_jsonb(c) AS r FROM ${quoteIdent(schema)}.projection_checkpoints c ORDER BY projection, partition`);
    return r.rows.map(({ r: row }) => ({
      projection: String(row.projection),
      partition: Number(row.partition),
      lastSeq: Number(row.last_seq),
      ingressSeq: typeof row.ingress_seq === 'number' ? row.ingress_seq : null,
      epoch: typeof row.epoch === 'number' ? row.epoch : null,
      updatedAt: typeof row.updated_at === 'string' ? new Date(row.updated_at).toISOString() : null,
    }));
  } catch (err) {
    if (sqlstateOf(err) === '42P01' || sqlstateOf(err) === '3F000') warnings.push(`no table ${schema}.projection_checkpoints yet (tiering has not migrated this namespace): checkpoints unknown (-)`);
    else {
      const cause = (err as { cause?: unknown }).cause;
      const detail = cause instanceof Error ? cause.message : (err as Error).message;
      warnings.push(`Postgres did not answer at ${redactUrl(url)} (${detail || (cause as { code?: string })?.code || 'no answer'}): checkpoints unknown (-). ${START_HINTS.postgres}`);
    }
    return null;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
