import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error s3rver ships no types: an in-process S3-compatible server, for this test only.
import S3rver from 's3rver';
import { ObjectConflictError } from './errors.js';
import { segmentKey, sidecarKey } from './layout.js';
import { sidecarJson } from './manifest.js';
import { ArchiveReader } from './reader.js';
import { S3ArchiveStore } from './s3Store.js';
import { encodeSegment, type ArchivedMessage } from './segment.js';

const dir = mkdtempSync(join(tmpdir(), 'fb-s3rver-'));
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'fb-archive' }] });
let store: S3ArchiveStore;

before(async () => {
  const { port } = (await server.run()) as { port: number };
  store = new S3ArchiveStore({
    bucket: 'fb-archive', prefix: 'deploy/a', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});
after(async () => {
  await store?.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('s3 store - objects are immutable under the prefix: same bytes a no-op, other bytes refused, listed in order, removable', async () => {
  const key = 'ns/segments/p0001/b.seg';
  assert.equal(await store.put(key, new Uint8Array([1, 2, 3])), 'written');
  assert.equal(await store.put(key, new Uint8Array([1, 2, 3])), 'exists');
  await assert.rejects(store.put(key, new Uint8Array([3, 2, 1])), (e: unknown) => e instanceof ObjectConflictError);
  assert.deepEqual([...(await store.get(key))], [1, 2, 3]);
  await store.put('ns/segments/p0001/a.seg', new Uint8Array([0]));
  await store.put('ns/segments/p0002/a.seg', new Uint8Array([0]));
  assert.deepEqual(await store.list('ns/segments/p0001/'), ['ns/segments/p0001/a.seg', 'ns/segments/p0001/b.seg']);
  assert.equal(await store.exists(key), true);
  await store.remove(key);
  assert.equal(await store.exists(key), false);
  await assert.rejects(store.get(key), { code: 'ARCHIVE_OBJECT_MISSING' });
});

test('s3 store - the reader finds segments by their sidecars in the bucket and checks them', async () => {
  const msgs: ArchivedMessage[] = [3, 5, 8].map((seq) => ({ seq, subject: 'ns.ev.4.agent', headers: [['Nats-Msg-Id', [`m${seq}`]]], data: new Uint8Array([seq, seq]) }));
  const seg = await encodeSegment(4, 0, msgs);
  const key = segmentKey('ns', 4, 3, 8);
  await store.put(key, seg.bytes);
  await store.put(sidecarKey(key), sidecarJson('ns', {
    partition: 4, afterSeq: 0, firstSeq: 3, lastSeq: 8, messages: 3, bytes: seg.bytes.byteLength, rawBytes: seg.header.rawBytes, sha256: seg.sha256, key, sealedAt: new Date(),
  }));
  const reader = new ArchiveReader({ store, namespace: 'ns' });
  assert.deepEqual(await reader.find(4, 5), msgs[1]);
  const seqs: number[] = [];
  for await (const chunk of reader.messages(4, 0)) seqs.push(...chunk.map((m) => m.seq));
  assert.deepEqual(seqs, [3, 5, 8]);
});
