import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { FarmbrainError, names } from '@farmbrain/contracts';
import { COMMON_DEFAULTS, connectNats } from '@farmbrain/platform';
import { uniqueNamespace } from '@farmbrain/testing';
import { ProjectionRegistry, versionLocation } from './registry.js';

const n = names(uniqueNamespace('reg'), 4);
let nc: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  nc = await connectNats(process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl, 'registry-test');
  jsm = await jetstreamManager(nc);
});
after(async () => {
  await jsm.streams.delete(`KV_${n.registryBucket}`).catch(() => undefined);
  await nc.close();
});

const code = (c: string) => (err: unknown) => err instanceof FarmbrainError && err.code === c;

test('registry - versions of a projection: the first lives in the namespace\'s schema, others in their own; live can be moved, never dropped', async () => {
  const reg = await ProjectionRegistry.open(nc, n);
  const fresh = await reg.read('tiering', 'tiering.v1');
  assert.equal(fresh.live, 'tiering.v1');
  assert.deepEqual(Object.keys(fresh.versions), ['tiering.v1']);
  assert.deepEqual(versionLocation(n, 'tiering.v1', 'tiering.v1'), { schema: n.pgSchema, redisPrefix: n.redisPrefix });
  assert.deepEqual(versionLocation(n, 'tiering.v2', 'tiering.v1'), { schema: `${n.pgSchema}_tiering_v2`, redisPrefix: `${n.redisPrefix}tiering_v2:` });

  await assert.rejects(() => reg.add('tiering', 'tiering.v1', 'Tiering.V2'), code('INVALID_VERSION'));
  await assert.rejects(() => reg.add('tiering', 'tiering.v1', 'analytics.v2'), code('INVALID_VERSION'));
  await assert.rejects(() => reg.setLive('tiering', 'tiering.v1', 'tiering.v2'), code('UNKNOWN_VERSION'));
  // Two operators adding versions at once: compare-and-set keeps both.
  await Promise.all([reg.add('tiering', 'tiering.v1', 'tiering.v2'), reg.add('tiering', 'tiering.v1', 'tiering.v3')]);
  await assert.rejects(() => reg.add('tiering', 'tiering.v1', 'tiering.v2'), code('VERSION_EXISTS'));
  const both = await reg.read('tiering', 'tiering.v1');
  assert.deepEqual(Object.keys(both.versions).sort(), ['tiering.v1', 'tiering.v2', 'tiering.v3']);
  assert.equal(both.live, 'tiering.v1');

  await reg.setLive('tiering', 'tiering.v1', 'tiering.v2');
  await assert.rejects(() => reg.markDropping('tiering', 'tiering.v1', 'tiering.v2'), code('VERSION_LIVE'));
  const dropping = await reg.markDropping('tiering', 'tiering.v1', 'tiering.v1');
  assert.equal(dropping.versions['tiering.v1']!.state, 'dropping');
  await assert.rejects(() => reg.setLive('tiering', 'tiering.v1', 'tiering.v1'), code('UNKNOWN_VERSION'), 'a version being dropped cannot become live');
  await reg.remove('tiering', 'tiering.v1', 'tiering.v1');
  const after = await reg.read('tiering', 'tiering.v1');
  assert.deepEqual(Object.keys(after.versions).sort(), ['tiering.v2', 'tiering.v3']);
  assert.equal(after.live, 'tiering.v2');
});
