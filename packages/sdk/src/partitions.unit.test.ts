import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoRespondersError, RequestError } from '@nats-io/transport-node';
import { names } from '@farmbrain/contracts';
import { defaultStreamSettings, streamConfigs } from '@farmbrain/platform';
import { isNoResponders, partitionsOfSubjects, subjectCovers } from './partitions.js';
import { FlushTimeoutError, IngressStreamMissingError, PartitionMismatchError } from './errors.js';

test('partitions - the ingress stream captures exactly one subject per partition, decimal and unpadded', () => {
  const n = names('fb', 12);
  assert.deepEqual(n.ingressSubjects(), Array.from({ length: 12 }, (_, p) => `fb.in.${p}.*`));
  assert.deepEqual(n.ingressSubjects()[3], n.ingressFilter(3));
  const ingress = streamConfigs(n, defaultStreamSettings()).find((c) => c.name === n.ingressStream)!;
  assert.deepEqual(ingress.subjects, n.ingressSubjects());
});

test('partitions - subject matching follows NATS wildcards', () => {
  assert.equal(subjectCovers('fb.in.3.*', 'fb.in.3.a'), true);
  assert.equal(subjectCovers('fb.in.3.*', 'fb.in.03.a'), false);
  assert.equal(subjectCovers('fb.in.3.*', 'fb.in.3.a.b'), false);
  assert.equal(subjectCovers('fb.in.3.*', 'fb.in.3'), false);
  assert.equal(subjectCovers('fb.in.>', 'fb.in.12.a'), true);
  assert.equal(subjectCovers('fb.in.>', 'fb.in'), false);
  assert.equal(subjectCovers('fb.in.*.a', 'fb.in.x.a'), true);
});

test('partitions - the deployment partition count is read from its ingress subjects', () => {
  assert.equal(partitionsOfSubjects(names('fb', 4).ingressSubjects(), 'fb'), 4);
  assert.equal(partitionsOfSubjects([...names('fb', 3).ingressSubjects()].reverse(), 'fb'), 3);
  assert.equal(partitionsOfSubjects(['fb.in.>'], 'fb'), undefined, 'an older stream does not tell');
  assert.equal(partitionsOfSubjects(['fb.in.0.*', 'fb.in.2.*'], 'fb'), undefined, 'a gap does not tell');
  assert.equal(partitionsOfSubjects(names('other', 2).ingressSubjects(), 'fb'), undefined);
  assert.equal(partitionsOfSubjects([], 'fb'), undefined);
});

test('partitions - a no-responders publish is recognised through the nats.js cause chain', () => {
  const nr = new NoRespondersError('fb.in.12.a');
  // What nats.js v3 js.publish throws: JetStreamNotEnabled <- RequestError <- NoRespondersError.
  const published = new Error('jetstream is not enabled', { cause: new RequestError(nr.message, { cause: nr }) });
  assert.equal(isNoResponders(published), true);
  assert.equal(isNoResponders(new Error('timeout')), false);
  assert.equal(isNoResponders(undefined), false);
});

test('partitions - the mismatch error says how many partitions the deployment has and what to pass', () => {
  const e = new PartitionMismatchError('a', 'fb.in.12.a', 4, 16, 'FB_INGRESS', names('fb', 4).ingressSubjects());
  assert.equal(e.code, 'PARTITION_MISMATCH');
  assert.match(e.message, /deployment has 4 partitions/);
  assert.match(e.message, /created with 16/);
  assert.match(e.message, /partitions: 4/);
  assert.match(e.message, /FB_PARTITIONS/);
  const unknown = new PartitionMismatchError('a', 'fb.in.1.a', undefined, 2, 'FB_INGRESS', ['fb.in.0.*']);
  assert.match(unknown.message, /FB_PARTITIONS/);
});

test('partitions - a timeout caused by a missing ingress stream points at the services, not at NATS', () => {
  const missing = new IngressStreamMissingError('FB_INGRESS', 'fb');
  assert.match(missing.message, /'FB_INGRESS' does not exist yet/);
  const t = new FlushTimeoutError('a', 3, missing);
  assert.match(t.message, /Start the farmbrain services/);
  assert.doesNotMatch(t.message, /NATS is reachable/);
  assert.match(new FlushTimeoutError('a', 3, new Error('timeout')).message, /NATS is reachable/);
});
