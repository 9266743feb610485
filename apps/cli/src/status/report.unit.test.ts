import { test } from 'node:test';
import assert from 'node:assert/strict';
import { palette } from '../output.js';
import { renderStatus } from './render.js';
import { statusReport, type StatusFacts } from './report.js';

const at = '2026-12-01T15:45:00.000Z';
const lease = (key: string, value: unknown, writtenAt = at) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value), revision: 1, writtenAt });

const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  namespace: 'fb', partitions: 2, at, leaseBucket: 'fb_leases',
  consumers: [
    { stream: 'events', durable: 'tiering_v1_p0', numPending: 5, numAckPending: 2, ackFloor: 100 },
    { stream: 'events', durable: 'tiering_v1_p1', numPending: 0, numAckPending: 0, ackFloor: 50 },
    { stream: 'ingress', durable: 'ingest_p0', numPending: 1, numAckPending: 0, ackFloor: 70 },
    { stream: 'ingress', durable: 'ingest_p1', numPending: 0, numAckPending: 0, ackFloor: 30 },
    { stream: 'events', durable: 'not-a-partition-consumer', numPending: 9, numAckPending: 9, ackFloor: 1 },
  ],
  leases: [
    lease('tiering_v1.p.0', { owner: 'tiering-0', epoch: 41, since: '2026-12-01T15:40:00.000Z', applied: 99, lastError: null }),
    lease('tiering_v1.p.1', { owner: 'tiering-1', epoch: 42, since: '2026-12-01T15:41:00.000Z', applied: 50, lastError: { message: 'postgres is unavailable', at: '2026-12-01T15:44:59.000Z' } }),
    lease('tiering_v1.m.tiering-0', { id: 'tiering-0', host: 'vm', pid: 11, startedAt: at, ops: 'http://127.0.0.1:8082' }),
    lease('tiering_v1.m.tiering-1', { id: 'tiering-1', host: 'vm', pid: 12, startedAt: at, ops: null }),
    lease('ingest.p.0', { owner: 'ingest-0', epoch: 7, since: at, applied: 70, lastError: null }),
    lease('ingest.m.ingest-0', { id: 'ingest-0', host: 'vm', pid: 10, startedAt: at, ops: 'http://127.0.0.1:8081' }),
  ],
  checkpoints: [
    { projection: 'tiering.v1', partition: 0, lastSeq: 98, ingressSeq: 60, epoch: 41, updatedAt: at },
    { projection: 'tiering.v1', partition: 1, lastSeq: 50, ingressSeq: 30, epoch: null, updatedAt: at },
  ],
  warnings: [],
  ...over,
});

test('status - one row per group and partition: owner and epoch from the lease, lag from the consumer, checkpoint from Postgres', () => {
  const r = statusReport(facts());
  assert.deepEqual(r.groups.map((g) => [g.group, g.stream, g.projection, g.lag]), [['ingest', 'ingress', null, 1], ['tiering_v1', 'events', 'tiering.v1', 7]]);
  const [ingest, tiering] = r.groups;
  assert.deepEqual(tiering!.partitions[0], {
    partition: 0, durable: 'tiering_v1_p0', consumer: true, owner: 'tiering-0', epoch: 41, since: '2026-12-01T15:40:00.000Z', renewedAt: at,
    lag: 7, numPending: 5, numAckPending: 2, ackFloor: 100, applied: 99,
    checkpoint: 98, checkpointIngressSeq: 60, checkpointEpoch: 41, checkpointAt: at, lastError: null,
  });
  assert.deepEqual(tiering!.partitions[1]!.lastError, { message: 'postgres is unavailable', at: '2026-12-01T15:44:59.000Z' });
  assert.equal(ingest!.partitions[1]!.owner, null, 'no lease: no owner');
  assert.equal(ingest!.partitions[0]!.checkpoint, null, 'ingest keeps no checkpoint table');
  assert.deepEqual(tiering!.members.map((m) => [m.id, m.pid, m.owns, m.ops]), [['tiering-0', 11, [0], 'http://127.0.0.1:8082'], ['tiering-1', 12, [1], null]]);
  assert.deepEqual(r.warnings, []);
  assert.equal(r.leases, true);
});

test('status - without a lease bucket every owner is null and a warning says why; nothing fails', () => {
  const r = statusReport(facts({ leases: null }));
  assert.equal(r.leases, false);
  for (const g of r.groups) for (const p of g.partitions) assert.equal(p.owner, null);
  assert.deepEqual(r.groups.flatMap((g) => g.members), []);
  assert.match(r.warnings.join('\n'), /no lease bucket fb_leases yet: partition owners are unknown/);
});

test('status - groups are found from leases and checkpoints too; a partition without a consumer has no lag; odd values are reported, not fatal', () => {
  const r = statusReport(facts({
    consumers: [],
    leases: [lease('positions_v2.p.1', { owner: 'x-1', epoch: '9' }), lease('positions_v2.p.0', 'not json'), lease('positions_v2.p.5', { owner: 'x-1' })],
    checkpoints: [{ projection: 'tiering.v1', partition: 0, lastSeq: 3, ingressSeq: null, epoch: null, updatedAt: null }],
  }));
  assert.deepEqual(r.groups.map((g) => [g.group, g.stream]), [['positions_v2', 'events'], ['tiering_v1', 'events']]);
  const pos = r.groups[0]!;
  assert.deepEqual(pos.partitions.map((p) => [p.partition, p.owner, p.epoch, p.lag, p.consumer]), [[0, '?', null, null, false], [1, 'x-1', 9, null, false], [5, 'x-1', null, null, false]]);
  assert.match(r.warnings.join('\n'), /lease key positions_v2\.p\.0 holds no JSON object/);
  assert.match(r.warnings.join('\n'), /partitions beyond FB_PARTITIONS=2 \(positions_v2 p5\)/);
});

test('status - an empty namespace says what to check', () => {
  const r = statusReport(facts({ consumers: [], leases: [], checkpoints: null, warnings: ['Postgres did not answer'] }));
  assert.deepEqual(r.groups, []);
  assert.deepEqual(r.warnings, ['Postgres did not answer', 'no consumer group found in namespace fb: has the stack run in it? (farmbrain start; FB_NAMESPACE picks the namespace)']);
});

test('status - the table: one line per partition, dashes for what is unknown, members and warnings below', () => {
  const text = renderStatus(statusReport(facts()), palette(false));
  const lines = text.split('\n');
  assert.equal(lines[0], 'namespace fb · 2 partitions · lease bucket fb_leases · 2026-12-01 15:45:00');
  assert.match(lines[2]!, /^GROUP\s+P\s+OWNER\s+EPOCH\s+LAG\s+ACKED\s+CHECKPOINT\s+LAST ERROR$/);
  assert.match(lines[3]!, /^ingest\s+0\s+ingest-0\s+7\s+1\s+70\s+-\s+-$/);
  assert.match(lines[4]!, /^ingest\s+1\s+-\s+-\s+0\s+30\s+-\s+-$/);
  assert.match(lines[5]!, /^tiering_v1\s+0\s+tiering-0\s+41\s+7\s+100\s+98\s+-$/);
  assert.match(lines[6]!, /^tiering_v1\s+1\s+tiering-1\s+42\s+0\s+50\s+50\s+postgres is unavailable \(15:44:59\)$/);
  assert.match(text, /tiering_v1 \(events stream, projection tiering\.v1\): lag 7; members: tiering-0 \(pid 11, on vm, owns 0, ops http:\/\/127\.0\.0\.1:8082\); tiering-1 \(pid 12, on vm, owns 1\)/);
  // Columns line up: every row's LAG column ends where its header ends.
  const end = lines[2]!.indexOf('LAG') + 3;
  for (const l of lines.slice(3, 7)) assert.match(l.slice(0, end), /\d$/);
  const noLeases = renderStatus(statusReport(facts({ leases: null })), palette(false));
  assert.match(noLeases, /lease bucket fb_leases \(absent\)/);
  assert.match(noLeases, /^! no lease bucket/m);
});
