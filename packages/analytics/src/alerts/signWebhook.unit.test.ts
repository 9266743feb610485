import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { retryDelayMs, signWebhook, verifyWebhook } from './index.js';

const body = '{"deliveryId":"x","alert":{"state":"firing"}}';

test('webhook signature - t=<unix>,v1=<hex hmac-sha256(secret, t.body)>, as a receiver recomputes it', () => {
  const sig = signWebhook('s3cret', body, 1_700_000_000);
  assert.equal(sig, `t=1700000000,v1=${createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex')}`);
  assert.deepEqual(verifyWebhook('s3cret', body, sig, { now: 1_700_000_010 }), { ok: true, t: 1_700_000_000 });
});

test('webhook signature - a changed body, another secret, an old timestamp or a garbled header are refused', () => {
  const sig = signWebhook('s3cret', body, 1_700_000_000);
  const now = { now: 1_700_000_000 };
  assert.deepEqual(verifyWebhook('s3cret', body.replace('firing', 'resolved'), sig, now), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifyWebhook('other', body, sig, now), { ok: false, reason: 'mismatch' });
  // The timestamp is signed: moving it breaks the signature.
  assert.deepEqual(verifyWebhook('s3cret', body, sig.replace('t=1700000000', 't=1700000999'), now), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifyWebhook('s3cret', body, sig, { now: 1_700_000_301 }), { ok: false, reason: 'expired' });
  assert.deepEqual(verifyWebhook('s3cret', body, sig, { now: 1_700_000_301, toleranceSec: 600 }), { ok: true, t: 1_700_000_000 });
  for (const bad of [undefined, '', 'v1=abc', 't=1700000000', 't=x,v1=' + 'a'.repeat(64)]) assert.deepEqual(verifyWebhook('s3cret', body, bad, now), { ok: false, reason: 'malformed' }, String(bad));
  // Two signatures (a sender rotating its secret): either may match.
  const other = signWebhook('old', body, 1_700_000_000).split(',')[1]!;
  assert.equal(verifyWebhook('s3cret', body, `${sig},${other}`, now).ok, true);
});

test('webhook retries - the wait doubles per failed try up to the cap, jittered down by at most half', () => {
  const o = { backoffMs: 1000, backoffMaxMs: 10_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, o, 0.999999)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.deepEqual([1, 2, 3].map((a) => retryDelayMs(a, o, 0)), [500, 1000, 2000]);
});
