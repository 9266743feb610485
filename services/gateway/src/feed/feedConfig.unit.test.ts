import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config.js';

test('feed config - FB_FEED_MAX_REPLAY defaults to 10000; the buffer, replay and per-client bytes have upper bounds', () => {
  const d = loadConfig({}).feed;
  assert.deepEqual([d.bufferSize, d.maxReplay, d.maxBufferedBytes], [2000, 10_000, 1024 * 1024]);
  assert.equal(loadConfig({ FB_FEED_MAX_REPLAY: '0' }).feed.maxReplay, 0);
  assert.equal(loadConfig({ FB_FEED_BUFFER: '100000', FB_FEED_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024) }).feed.bufferSize, 100_000);
  for (const [name, value] of [['FB_FEED_BUFFER', '100001'], ['FB_FEED_MAX_BUFFERED_BYTES', String(64 * 1024 * 1024 + 1)], ['FB_FEED_MAX_REPLAY', '1000001'], ['FB_FEED_MAX_REPLAY', '-1']] as const) {
    assert.throws(() => loadConfig({ [name]: value }), new RegExp(name), `${name}=${value}`);
  }
});
