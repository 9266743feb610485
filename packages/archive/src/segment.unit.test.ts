import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyRuns } from '@farmbrain/testing';
import { ChecksumMismatchError, SegmentCorruptError } from './errors.js';
import { FsArchiveStore } from './fsStore.js';
import { ArchiveReader } from './reader.js';
import { segmentKey, sidecarKey } from './layout.js';
import { sidecarJson, type SegmentInfo } from './manifest.js';
import { decodeHeaders, decodeSegment, encodeHeaders, encodeSegment, readSegmentHeader, type ArchivedMessage } from './segment.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Messages as a partition's stream would hold them: increasing sequences (with gaps), any subject, headers and data. */
const messagesArb = fc.tuple(
  fc.nat({ max: 1_000_000 }),
  fc.array(fc.record({
    gap: fc.integer({ min: 1, max: 50 }),
    subject: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    headers: fc.array(fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }), fc.array(fc.string({ unit: 'grapheme', maxLength: 60 }), { minLength: 1, maxLength: 3 })), { maxLength: 5 }),
    data: fc.uint8Array({ maxLength: 600 }),
  }), { minLength: 1, maxLength: 40 }),
).map(([after, recs]) => {
  let seq = after;
  return { after, messages: recs.map((r): ArchivedMessage => ({ seq: (seq += r.gap), subject: r.subject, headers: r.headers, data: r.data })) };
});

const plain = (ms: readonly ArchivedMessage[]) => ms.map((m) => ({ ...m, data: Buffer.from(m.data).toString('hex') }));

test('segment - any messages survive encode and decode unchanged, and the header describes them', async () => {
  await fc.assert(fc.asyncProperty(fc.nat({ max: 1023 }), messagesArb, async (partition, { after, messages }) => {
    const seg = await encodeSegment(partition, after, messages);
    const { header, messages: back } = await decodeSegment(seg.bytes);
    assert.deepEqual(plain(back), plain(messages));
    assert.deepEqual(header, readSegmentHeader(seg.bytes));
    assert.equal(header.partition, partition);
    assert.equal(header.afterSeq, after);
    assert.equal(header.firstSeq, messages[0]!.seq);
    assert.equal(header.lastSeq, messages[messages.length - 1]!.seq);
    assert.equal(header.messages, messages.length);
    // Deterministic: a seal retried after a crash writes the same bytes.
    assert.equal((await encodeSegment(partition, after, messages)).sha256, seg.sha256);
  }), propertyRuns(150, { interruptAfterTimeLimit: 20_000 }));
});

test('segment - headers alone round-trip (the pending table stores them so)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.array(fc.string()))), (h) => {
    assert.deepEqual(decodeHeaders(encodeHeaders(h)), h);
  }), propertyRuns(200));
});

test('segment - sequences that do not increase above afterSeq are refused when encoding', async () => {
  const m = (seq: number): ArchivedMessage => ({ seq, subject: 's', headers: [], data: new Uint8Array([1]) });
  await assert.rejects(encodeSegment(0, 5, [m(5)]), /must increase above 5/);
  await assert.rejects(encodeSegment(0, 0, [m(3), m(3)]), /must increase/);
  await assert.rejects(encodeSegment(0, 0, []), /at least one message/);
});

test('segment - damaged bytes are refused with ARCHIVE_SEGMENT_CORRUPT, never decoded into other messages', async () => {
  const msgs: ArchivedMessage[] = Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, subject: `fb.ev.0.agent${i % 3}`, headers: [['Nats-Msg-Id', [`id-${i}`]]], data: new Uint8Array(100).fill(i) }));
  const { bytes } = await encodeSegment(0, 0, msgs);
  const flip = (at: number) => {
    const b = Uint8Array.from(bytes);
    b[at] = b[at]! ^ 0xff;
    return b;
  };
  await assert.rejects(decodeSegment(flip(0)), (e: unknown) => e instanceof SegmentCorruptError && e.code === 'ARCHIVE_SEGMENT_CORRUPT' && /magic/.test(e.message));
  await assert.rejects(decodeSegment(flip(4)), /format version/);
  await assert.rejects(decodeSegment(flip(15)), { code: 'ARCHIVE_SEGMENT_CORRUPT' }); // message count
  await assert.rejects(decodeSegment(bytes.subarray(0, bytes.byteLength - 7)), { code: 'ARCHIVE_SEGMENT_CORRUPT' });
  await assert.rejects(decodeSegment(flip(bytes.byteLength - 3)), { code: 'ARCHIVE_SEGMENT_CORRUPT' });
});

test('reader - a segment whose bytes are not those of its manifest fails with ARCHIVE_CHECKSUM_MISMATCH naming the object', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fb-archive-unit-'));
  try {
    const store = new FsArchiveStore(root);
    const msgs: ArchivedMessage[] = [1, 4, 9].map((seq) => ({ seq, subject: 'ns.ev.2.a', headers: [], data: new Uint8Array([seq]) }));
    const seg = await encodeSegment(2, 0, msgs);
    const key = segmentKey('ns', 2, 1, 9);
    const info: SegmentInfo = { partition: 2, afterSeq: 0, firstSeq: 1, lastSeq: 9, messages: 3, bytes: seg.bytes.byteLength, rawBytes: seg.header.rawBytes, sha256: seg.sha256, key, sealedAt: new Date() };
    await store.put(sidecarKey(key), sidecarJson('ns', info));
    // The stored object is another (valid) segment: only the checksum can tell.
    const other = await encodeSegment(2, 0, msgs.map((m) => ({ ...m, data: new Uint8Array([0]) })));
    await store.put(key, other.bytes);
    const reader = new ArchiveReader({ store, namespace: 'ns' });
    await assert.rejects(reader.find(2, 4), (e: unknown) => e instanceof ChecksumMismatchError && e.code === 'ARCHIVE_CHECKSUM_MISMATCH' && e.message.includes(key));
    await store.remove(key);
    await store.put(key, seg.bytes);
    assert.deepEqual((await reader.find(2, 4))?.data, new Uint8Array([4]));
    assert.equal(await reader.find(2, 5), undefined, 'a sequence in the range but not of this partition');
    const all: number[] = [];
    for await (const chunk of reader.messages(2, 1, { chunk: 1 })) all.push(...chunk.map((m) => m.seq));
    assert.deepEqual(all, [4, 9]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
