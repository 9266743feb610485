import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kvm } from '@nats-io/kv';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { encodeEvent, frameBatch, names as makeNames, partitionOf, type FarmEvent } from '@farmbrain/contracts';
import {
  COMMON_DEFAULTS, connectNats, connectPostgres, jetstreamManager, provisionDurable, provisionStreams, quoteIdent, type Pool,
} from '@farmbrain/platform';
import { uniqueNamespace } from '@farmbrain/testing';
import { fetchStatusFacts } from './status/facts.js';
import { statusReport, type StatusReport } from './status/report.js';

/**
 * `farmbrain status` on a real namespace: streams, partition consumers with
 * messages pending, a lease bucket with owners and members, and a projection
 * checkpoint table, made here by hand (no service runs).
 */
const PARTITIONS = 2;
const namespace = uniqueNamespace('cli');
const n = makeNames(namespace, PARTITIONS);
const natsUrl = process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl;
const databaseUrl = process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl;
const common = { natsUrl, databaseUrl, namespace, partitions: PARTITIONS };
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
let nc: NatsConnection;
let jsm: JetStreamManager;
let pool: Pool;

const event = (agentId: string, i: number): FarmEvent => ({
  eventId: `0193a000-0000-7000-8000-${String(i).padStart(12, '0')}`, agentId, producerSeq: i, occurredAt: Date.now(), correlationId: '', causationId: '',
  schemaVersion: 1, type: 'agent_registered', data: { name: agentId, team: '', strategy: '', config: {} },
} as unknown as FarmEvent);

/** An agent id on partition `p`. */
const agentOn = (p: number) => Array.from({ length: 100 }, (_, i) => `agent-${i}`).find((a) => partitionOf(a, PARTITIONS) === p)!;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [MAIN, ...args], {
      env: { ...process.env, FB_NAMESPACE: namespace, FB_PARTITIONS: String(PARTITIONS), NO_COLOR: '1', ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  nc = await connectNats(natsUrl, `test-${namespace}`);
  jsm = await jetstreamManager(nc);
  pool = await connectPostgres(databaseUrl, n.pgSchema, { max: 2 });
  await provisionStreams(jsm, n);
  for (let p = 0; p < PARTITIONS; p++) {
    await provisionDurable(jsm, { stream: n.ingressStream, durable: n.durable('ingest', p), filterSubject: n.ingressFilter(p) });
  }
  await provisionDurable(jsm, { stream: n.eventsStream, durable: n.durable('tiering_v1', 1), filterSubject: n.eventsFilter(1) });
  // Three messages waiting on ingress partition 0, two on the events stream's partition 1.
  const js = jetstream(nc);
  for (let i = 1; i <= 3; i++) await js.publish(n.ingressSubject(agentOn(0)), frameBatch([encodeEvent(event(agentOn(0), i))]), { msgID: `m${i}` });
  for (let i = 4; i <= 5; i++) await js.publish(n.eventsSubject(agentOn(1)), frameBatch([encodeEvent(event(agentOn(1), i))]), { msgID: `m${i}` });
});

after(async () => {
  for (const s of [n.ingressStream, n.eventsStream, n.deadLetterStream, `KV_${n.leaseBucket}`]) await jsm?.streams.delete(s).catch(() => undefined);
  await pool?.query(`DROP SCHEMA IF EXISTS ${quoteIdent(n.pgSchema)} CASCADE`).catch(() => undefined);
  await pool?.end();
  await nc?.close();
});

test('status - before leases and checkpoints exist: groups from the consumers, owners unknown, lag from JetStream; exit 0', async () => {
  const r = statusReport(await fetchStatusFacts(common));
  assert.deepEqual(r.groups.map((g) => [g.group, g.stream, g.lag]), [['ingest', 'ingress', 3], ['tiering_v1', 'events', 2]]);
  assert.deepEqual(r.groups[0]!.partitions.map((p) => [p.partition, p.owner, p.lag, p.consumer]), [[0, null, 3, true], [1, null, 0, true]]);
  assert.deepEqual(r.groups[1]!.partitions.map((p) => [p.partition, p.lag, p.consumer]), [[0, null, false], [1, 2, true]]);
  assert.equal(r.leases, false);
  assert.match(r.warnings.join('\n'), /no lease bucket/);
  assert.match(r.warnings.join('\n'), /projection_checkpoints/);
  const human = await cli(['status']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^ingest\s+0\s+-\s+-\s+3\s+0\s+-\s+-$/m);
  assert.match(human.stdout, /^tiering_v1\s+0\s+-\s+-\s+no consumer\s+-\s+-\s+-$/m);
});

test('status - owners, epochs, members and last errors from the lease bucket, checkpoints from Postgres; --json is one document', async () => {
  const kv = await new Kvm(nc).create(n.leaseBucket, { history: 1, ttl: 60_000 });
  const since = new Date().toISOString();
  await kv.put('ingest.p.0', JSON.stringify({ owner: 'ingest-0', epoch: 3, since, applied: 0, lastError: null }));
  await kv.put('ingest.p.1', JSON.stringify({ owner: 'ingest-1', epoch: 4, since, applied: 0, lastError: { message: 'wrong last sequence', at: since } }));
  await kv.put('ingest.m.ingest-0', JSON.stringify({ id: 'ingest-0', host: 'h', pid: 1, startedAt: since, ops: 'http://127.0.0.1:8081' }));
  await kv.put('ingest.m.ingest-1', JSON.stringify({ id: 'ingest-1', host: 'h', pid: 2, startedAt: since, ops: null }));
  await kv.put('tiering_v1.p.1', JSON.stringify({ owner: 'tiering-0', epoch: 9, since, applied: 3, lastError: null }));
  await kv.put('tiering_v1.m.tiering-0', JSON.stringify({ id: 'tiering-0', host: 'h', pid: 3, startedAt: since, ops: null }));
  // A released lease is deleted: it must not show.
  await kv.put('tiering_v1.p.0', JSON.stringify({ owner: 'gone', epoch: 1 }));
  await kv.delete('tiering_v1.p.0');
  // In the namespace's schema, named: with no such schema, an unqualified name would land in public.
  await pool.query(`CREATE SCHEMA ${quoteIdent(n.pgSchema)}`);
  await pool.query(`CREATE TABLE ${quoteIdent(n.pgSchema)}.projection_checkpoints (projection text NOT NULL, partition integer NOT NULL, last_seq bigint NOT NULL,
    ingress_seq bigint NOT NULL DEFAULT 0, epoch bigint, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (projection, partition))`);
  await pool.query(`INSERT INTO ${quoteIdent(n.pgSchema)}.projection_checkpoints (projection, partition, last_seq, ingress_seq, epoch) VALUES ('tiering.v1', 1, 1, 2, 9)`);

  const r = statusReport(await fetchStatusFacts(common));
  assert.equal(r.leases, true);
  assert.deepEqual(r.warnings, []);
  const [ingest, tiering] = r.groups;
  assert.deepEqual(ingest!.partitions.map((p) => [p.owner, p.epoch, p.lastError?.message ?? null]), [['ingest-0', 3, null], ['ingest-1', 4, 'wrong last sequence']]);
  assert.deepEqual(ingest!.members.map((m) => [m.id, m.owns]), [['ingest-0', [0]], ['ingest-1', [1]]]);
  assert.deepEqual(tiering!.partitions.map((p) => [p.owner, p.epoch, p.checkpoint, p.checkpointIngressSeq, p.checkpointEpoch]), [[null, null, null, null, null], ['tiering-0', 9, 1, 2, 9]]);
  assert.equal(tiering!.projection, 'tiering.v1');

  const json = await cli(['status', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as StatusReport;
  assert.equal(doc.namespace, namespace);
  assert.deepEqual(doc.groups.map((g) => g.group), ['ingest', 'tiering_v1']);
  const human = await cli(['status']);
  assert.match(human.stdout, /^ingest\s+1\s+ingest-1\s+4\s+0\s+0\s+-\s+wrong last sequence \(\d\d:\d\d:\d\d\)$/m);
  assert.match(human.stdout, /^tiering_v1\s+1\s+tiering-0\s+9\s+2\s+0\s+1\s+-$/m);
  assert.match(human.stdout, /ingest \(ingress stream\): lag 3; members: ingest-0 \(pid 1, on h, owns 0, ops http:\/\/127\.0\.0\.1:8081\); ingest-1/);
});

test('status - a namespace without streams, or NATS down: exit 1 and what to do', async () => {
  const none = await cli(['status'], { FB_NAMESPACE: uniqueNamespace('none') });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /has no streams on .*: start the stack in it \(farmbrain start\), or set FB_NAMESPACE .* \(UNKNOWN_NAMESPACE\)/);
  const down = await cli(['status', '--json'], { NATS_URL: 'nats://127.0.0.1:9' });
  assert.equal(down.code, 1);
  const err = JSON.parse(down.stderr) as { error: { code: string; message: string } };
  assert.equal(err.error.code, 'SERVICE_UNAVAILABLE');
  assert.match(err.error.message, /nats is not reachable at nats:\/\/127\.0\.0\.1:9.*Start it with: nats-server/);
  const bad = await cli(['status'], { FB_PARTITIONS: 'x' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /FB_PARTITIONS='x' must be an integer/);
});
