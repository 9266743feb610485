import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectConflictError } from './errors.js';
import { FsArchiveStore } from './fsStore.js';

const withStore = async (fn: (s: FsArchiveStore, root: string) => Promise<void>) => {
  const root = mkdtempSync(join(tmpdir(), 'fb-fsstore-'));
  try {
    await fn(new FsArchiveStore(root), root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

test('fs store - an object is immutable: the same bytes again are a no-op, other bytes are refused', () => withStore(async (s) => {
  const key = 'ns/segments/p0001/a.seg';
  assert.equal(await s.put(key, new Uint8Array([1, 2, 3])), 'written');
  assert.equal(await s.put(key, new Uint8Array([1, 2, 3])), 'exists');
  await assert.rejects(s.put(key, new Uint8Array([1, 2, 4])), (e: unknown) => e instanceof ObjectConflictError && e.code === 'ARCHIVE_OBJECT_CONFLICT');
  assert.deepEqual([...(await s.get(key))], [1, 2, 3]);
  // Only a deliberate removal makes room for other bytes (erasure rewrites).
  await s.remove(key);
  await s.remove(key);
  assert.equal(await s.exists(key), false);
  assert.equal(await s.put(key, new Uint8Array([9])), 'written');
}));

test('fs store - concurrent puts of one key: one writes, the others find the same bytes; no temporary file is left', () => withStore(async (s, root) => {
  const key = 'ns/segments/p0000/x.seg';
  const bytes = new Uint8Array(100_000).fill(7);
  const results = await Promise.all(Array.from({ length: 8 }, () => s.put(key, bytes)));
  assert.equal(results.filter((r) => r === 'written').length, 1);
  assert.deepEqual(readdirSync(join(root, 'ns', 'segments', 'p0000')), ['x.seg']);
}));

test('fs store - list gives the keys under a prefix in byte order; a missing object is ARCHIVE_OBJECT_MISSING; keys cannot escape the root', () => withStore(async (s) => {
  for (const k of ['ns/segments/p0001/002-003.seg', 'ns/segments/p0001/001-001.seg', 'ns/segments/p0002/001-001.seg', 'other/x']) await s.put(k, new Uint8Array([1]));
  assert.deepEqual(await s.list('ns/segments/p0001/'), ['ns/segments/p0001/001-001.seg', 'ns/segments/p0001/002-003.seg']);
  assert.deepEqual(await s.list('ns/segments/p0001/002'), ['ns/segments/p0001/002-003.seg']);
  assert.deepEqual(await s.list('ns/'), ['ns/segments/p0001/001-001.seg', 'ns/segments/p0001/002-003.seg', 'ns/segments/p0002/001-001.seg']);
  assert.deepEqual(await s.list('nothing/here/'), []);
  await assert.rejects(s.get('ns/none'), { code: 'ARCHIVE_OBJECT_MISSING' });
  await assert.rejects(s.put('../escape', new Uint8Array([1])), /not a valid archive key/);
  await assert.rejects(s.put('/abs', new Uint8Array([1])), /not a valid archive key/);
}));
