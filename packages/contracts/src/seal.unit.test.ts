import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeEvent, encodeEvent, ERASED_TEXT, SEALED_TEXT, SealError, sealEvent, unsealEvent, type EventOf, type SealableEvent } from './index.js';

const stored = (text: string, embedding: number[], eventId = '0190a0b0-0000-7000-8000-000000000001'): EventOf<'memory_stored'> => ({
  eventId, agentId: 'a1', producerSeq: 1, occurredAt: 1_700_000_000_000, correlationId: '', causationId: '', schemaVersion: 1, type: 'memory_stored',
  data: { memoryId: 'm1', kind: 'lesson', text, tags: ['t'], importance: 0.5, embedding, scope: 'agent', scopeId: '', expiresAt: 0, sourceEventIds: [], situation: [], embeddingModel: '' },
});
const f32 = (xs: number[]) => [...new Float32Array(xs)];

test('seal - property: a sealed memory event survives the wire and opens to exactly what was sealed; its bytes never hold the text', () => {
  fc.assert(fc.property(fc.string({ minLength: 4, maxLength: 300 }), fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { maxLength: 16 }), fc.boolean(), (text, emb, update) => {
    const key = randomBytes(32);
    const base = stored(text, f32(emb));
    const e: SealableEvent = update
      ? { ...base, type: 'memory_updated', data: { memoryId: 'm1', text, tags: [], replaceTags: false, embedding: f32(emb), embeddingModel: '' } }
      : base;
    const sealed = sealEvent(e, key);
    assert.deepEqual(sealEvent(e, key), sealed, 'sealing is deterministic (a retried publish is a duplicate)');
    const wire = encodeEvent(sealed);
    if (text.trim().length >= 4) assert.ok(!Buffer.from(wire).includes(Buffer.from(text)), 'the text is not in the bytes');
    const back = unsealEvent(decodeEvent(wire) as SealableEvent, key);
    assert.deepEqual(back, e);
  }), { numRuns: 300 });
});

test('seal - without its key a memory reads as erased; another key or tampered bytes are refused', () => {
  const key = randomBytes(32);
  const s = sealEvent(stored('buy the dip on BTC', [0.5, 0.25]), key);
  assert.equal(s.data.text, SEALED_TEXT);
  assert.deepEqual(s.data.embedding, []);
  const gone = unsealEvent(s, undefined);
  assert.equal(gone.data.text, ERASED_TEXT);
  assert.deepEqual(gone.data.embedding, []);
  assert.equal(gone.data.sealed, undefined);
  assert.throws(() => unsealEvent(s, randomBytes(32)), SealError);
  const bad = new Uint8Array(s.data.sealed!);
  bad[bad.length - 1]! ^= 1;
  assert.throws(() => unsealEvent({ ...s, data: { ...s.data, sealed: bad } }, key), SealError);
  // Bound to its event: the same bytes under another event id do not open.
  assert.throws(() => unsealEvent({ ...s, eventId: '0190a0b0-0000-7000-8000-000000000002' }, key), SealError);
});
