import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadArchiveConfig } from './config.js';

test('archive config - a folder by default, a path or file URL, or an S3-compatible bucket; mistakes say what to do', () => {
  const d = loadArchiveConfig({}, '/srv/fb');
  assert.deepEqual(d.store, { kind: 'fs', root: '/srv/fb/.farmbrain/archive' });
  assert.equal(d.configured, false);
  assert.deepEqual(d.segments, { maxMessages: 10_000, maxBytes: 8 * 1024 * 1024, sealAfterMs: 60_000 });
  assert.deepEqual(loadArchiveConfig({ FB_ARCHIVE_URL: 'data/arch' }, '/srv/fb').store, { kind: 'fs', root: '/srv/fb/data/arch' });
  assert.deepEqual(loadArchiveConfig({ FB_ARCHIVE_URL: 'file:///var/lib/fb' }).store, { kind: 'fs', root: '/var/lib/fb' });
  const s3 = loadArchiveConfig({
    FB_ARCHIVE_URL: 's3://fb-archive/prod/', FB_S3_ENDPOINT: 'https://p.supabase.co/storage/v1/s3', FB_S3_REGION: 'eu-west-1',
    FB_S3_ACCESS_KEY_ID: 'k', FB_S3_SECRET_ACCESS_KEY: 's',
  });
  assert.equal(s3.configured, true);
  assert.deepEqual(s3.store, {
    kind: 's3', bucket: 'fb-archive', prefix: 'prod', endpoint: 'https://p.supabase.co/storage/v1/s3', region: 'eu-west-1', forcePathStyle: true,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
  });
  assert.equal((loadArchiveConfig({ FB_ARCHIVE_URL: 's3://bucket' }).store as { forcePathStyle: boolean }).forcePathStyle, false, 'AWS itself: virtual-hosted style');
  assert.throws(() => loadArchiveConfig({ FB_ARCHIVE_URL: 'gs://b' }), { code: 'CONFIG_INVALID', message: /folder .* or an S3-compatible bucket/ });
  assert.throws(() => loadArchiveConfig({ FB_ARCHIVE_URL: 's3://B_' }), /valid bucket name/);
  assert.throws(() => loadArchiveConfig({ FB_ARCHIVE_URL: 's3://bucket', FB_S3_ACCESS_KEY_ID: 'k' }), /go together: set both/);
  assert.throws(() => loadArchiveConfig({ FB_ARCHIVE_URL: 's3://bucket', FB_S3_ENDPOINT: 'ftp://x' }), /must be an http\(s\) URL/);
  assert.throws(() => loadArchiveConfig({ FB_ARCHIVE_SEGMENT_MAX_MESSAGES: '0' }), /FB_ARCHIVE_SEGMENT_MAX_MESSAGES='0' must be an integer from 1/);
});
