import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeqEvent } from '@farmbrain/projection';
import { feedItems, isAfter, parseEventId, positionId } from './feedItems.js';

const meta = (eventId: string, streamSeq: number) => ({ eventId, agentId: 'a1', producerSeq: 1, occurredAt: 1, correlationId: '', causationId: '', schemaVersion: 1, streamSeq });
const decision = (eventId: string, streamSeq: number): SeqEvent => ({
  ...meta(eventId, streamSeq), type: 'decision_made',
  data: { symbol: 'ETH', action: 'buy', size: 1, confidence: 0.5, rationale: '', situation: [], memoryIds: [], recallIds: [] },
});
const memory = (eventId: string, streamSeq: number): SeqEvent => ({
  ...meta(eventId, streamSeq), type: 'memory_forgotten', data: { memoryId: 'm', reason: '' },
} as SeqEvent);

const idsOf = (frames: string[]) => frames.map((f) => /^id: (.*)$/m.exec(f)?.[1]);

test('feed items - a message with several decisions: the last carries the stream sequence, earlier ones <seq>:<n>; other events are left out', () => {
  const items = feedItems(42, [decision('d1', 42), memory('m1', 42), decision('d2', 42), decision('d1', 42), decision('d3', 42)]);
  assert.deepEqual(items.map((i) => [i.kind, i.idx]), [['decision', 0], ['decision', 1], ['decision', 2]]);
  assert.deepEqual(idsOf(items.map((i) => i.frame)), ['42:0', '42:1', '42']);
  assert.match(items[0]!.frame, /^id: 42:0\nevent: decision\ndata: \{.*"eventId":"d1".*\}\n\n$/);
  assert.deepEqual(idsOf(feedItems(7, [decision('x', 7)]).map((i) => i.frame)), ['7']);
  assert.deepEqual(feedItems(8, [memory('m', 8)]), []);
});

test('feed items - resuming from an id: <seq> is after every item of that message, <seq>:<n> after item n only', () => {
  const items = feedItems(42, [decision('d1', 42), decision('d2', 42), decision('d3', 42)]);
  const after = (id: string) => items.filter((i) => isAfter(i, parseEventId(id)!)).map((i) => i.idx);
  assert.deepEqual(after('42'), []);
  assert.deepEqual(after('42:0'), [1, 2]);
  assert.deepEqual(after('41'), [0, 1, 2]);
  assert.deepEqual(after('0'), [0, 1, 2]);
  for (const bad of ['', 'x', '-1', '1:2:3', '1.5', '12345678901234567']) assert.equal(parseEventId(bad), undefined, bad);
});

test('feed items - each item carries its event id; positionId is the inverse of parseEventId', () => {
  assert.deepEqual(feedItems(9, [decision('d1', 9), decision('d2', 9)]).map((i) => i.eventId), ['d1', 'd2']);
  for (const id of ['0', '42', '42:0', '7:3']) assert.equal(positionId(parseEventId(id)!), id);
});
