import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BLOCK_COLUMNS, BlockCodecError, decodeBlock, encodeBlock, sha256Hex, type BlockKind, type BlockRow } from './coldBlock.js';
import { checkpointOut, decisionOut, tradeOut } from './rows.js';

// Runs: a fixed seed in CI; FB_PROPERTY_RUNS=<n> for more, with a fresh seed.
const local = Number(process.env.FB_PROPERTY_RUNS ?? '');
const runs = (n: number): fc.Parameters<unknown> => ({ includeErrorInReport: true, ...(local > 0 ? { numRuns: local } : { seed: 42, numRuns: n }) });

// Values as node-pg gives them for each column type (farmbrain parses int8 as a number).
const uuid = fc.uuid({ version: [4, 7] });
const text = fc.string({ unit: fc.constantFrom('a', 'B', '0', ' ', '-', 'é', '漢', '🚀', '"', '\\', '\n'), maxLength: 24 });
const smallSet = <T>(a: fc.Arbitrary<T>) => fc.constantFrom(...fc.sample(a, { numRuns: 4, seed: 1 }));
// Every double a float8 column can hold (NaN, ±Infinity, -0 included) and the short decimals real data has.
const float = fc.oneof(fc.double(), fc.integer({ min: -1e6, max: 1e6 }).map((m) => m / 1000), fc.constantFrom(0, -0, 0.1, 0.3, 61234.5, 1e-7));
const int = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER));
const time = fc.integer({ min: 0, max: 253_402_300_799_999 }).map((ms) => new Date(ms));
const json: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

const ROW: Record<BlockKind, fc.Arbitrary<BlockRow>> = {
  decision: fc.record({
    event_id: uuid, agent_id: smallSet(text), producer_seq: int, occurred_at: time, symbol: smallSet(text), action: fc.constantFrom('buy', 'sell', 'hold', 'close'),
    size: float, confidence: float, rationale: text, situation: fc.array(float, { maxLength: 6 }), memory_ids: fc.array(fc.oneof(uuid, text), { maxLength: 3 }),
    correlation_id: fc.oneof(fc.constant(''), uuid, text), stream_seq: int, recall_ids: fc.array(uuid, { maxLength: 3 }),
  }),
  trade: fc.record({
    event_id: uuid, agent_id: smallSet(text), producer_seq: int, occurred_at: time, order_id: text, symbol: smallSet(text), side: fc.constantFrom('buy', 'sell'),
    qty: float, price: float, fees: float, decision_id: fc.oneof(fc.constant(''), uuid), stream_seq: int,
  }),
  checkpoint: fc.record({
    event_id: uuid, agent_id: smallSet(text), producer_seq: int, occurred_at: time, label: text,
    state: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), size_bytes: fc.nat(), stream_seq: int,
  }),
  recall: fc.record({
    recall_id: uuid, agent_id: smallSet(text), occurred_at: time, query_text: text, query_vector: fc.array(float, { maxLength: 8 }),
    embedding_model: smallSet(text), filters: fc.dictionary(text, json, { maxKeys: 3 }).map((o) => JSON.parse(JSON.stringify(o)) as unknown), k: fc.nat(1000), hits: fc.array(json, { maxLength: 3 }),
    correlation_id: text, stream_seq: int,
  }),
};

/** Distinct ids (a block never holds one record twice). */
const rowsOf = (kind: BlockKind) => fc.uniqueArray(ROW[kind].map((r) => ({ ...r })), { minLength: 1, maxLength: 40, selector: (r) => r[kind === 'recall' ? 'recall_id' : 'event_id'] });

for (const kind of ['decision', 'trade', 'checkpoint', 'recall'] as const) {
  test(`cold block - ${kind} rows come back exactly, in block order, whatever order they were encoded in`, () => {
    fc.assert(fc.property(rowsOf(kind), fc.integer(), (rows, seed) => {
      const block = encodeBlock(kind, rows);
      const back = decodeBlock(block.payload);
      assert.equal(back.kind, kind);
      const id = kind === 'recall' ? 'recall_id' : 'event_id';
      const byId = new Map(rows.map((r) => [r[id], r]));
      assert.deepEqual(back.rows.map((r) => r[id]), block.ids);
      for (const r of back.rows) assert.deepEqual(r, byId.get(r[id]));
      assert.equal(back.rows.length, rows.length);
      assert.deepEqual(back.rows.map((r) => r.stream_seq), block.streamSeqs);
      // Deterministic: a shuffled copy gives the same bytes.
      const shuffled = fc.sample(fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }), { numRuns: 1, seed })[0]!;
      assert.deepEqual(encodeBlock(kind, shuffled).payload, block.payload);
      assert.equal(block.sha256, sha256Hex(block.payload));
    }), runs(150));
  });
}

test('cold block - decoded rows map to the same API items as the warm rows', () => {
  const at = new Date('2026-03-01T10:00:00.123Z');
  const d = { event_id: '01900000-0000-7000-8000-000000000001', agent_id: 'a1', producer_seq: 7, occurred_at: at, symbol: 'BTC-USD', action: 'buy', size: 0.25, confidence: 0.612, rationale: 'trend 1.2σ', situation: [0.1, -0.3, 0, 0.55], memory_ids: ['m1'], correlation_id: '', stream_seq: 99, recall_ids: [] };
  const t = { event_id: '01900000-0000-7000-8000-000000000002', agent_id: 'a1', producer_seq: 8, occurred_at: at, order_id: 'o-1', symbol: 'BTC-USD', side: 'buy', qty: 0.25, price: 61234.5, fees: 1.53, decision_id: '', stream_seq: 100 };
  const c = { event_id: '01900000-0000-7000-8000-000000000003', agent_id: 'a1', producer_seq: 9, occurred_at: at, label: 'tick', state: Buffer.from('{"x":1}'), size_bytes: 7, stream_seq: 101 };
  assert.deepEqual(decodeBlock(encodeBlock('decision', [d]).payload).rows.map(decisionOut), [decisionOut(d)]);
  assert.deepEqual(decodeBlock(encodeBlock('trade', [t]).payload).rows.map(tradeOut), [tradeOut(t)]);
  assert.deepEqual(decodeBlock(encodeBlock('checkpoint', [c]).payload).rows.map(checkpointOut), [checkpointOut(c)]);
});

test('cold block - a row with a column the codec does not know is refused, not silently dropped', () => {
  const row = { ...Object.fromEntries(BLOCK_COLUMNS.trade.map(([n]) => [n, 0])), event_id: '01900000-0000-7000-8000-000000000002', occurred_at: new Date(0), extra: 1 };
  assert.throws(() => encodeBlock('trade', [row]), /trades\.extra is not a column/);
  assert.throws(() => encodeBlock('trade', []), RangeError);
});

test('cold block - corrupt or foreign bytes fail with BLOCK_CORRUPT', () => {
  assert.throws(() => decodeBlock(Buffer.from('not a block')), BlockCodecError);
  const good = encodeBlock('trade', [{ event_id: '01900000-0000-7000-8000-000000000002', agent_id: 'a', producer_seq: 1, occurred_at: new Date(5), order_id: '', symbol: 'S', side: 'buy', qty: 1, price: 2, fees: 0, decision_id: '', stream_seq: 3 }]).payload;
  fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
    const bad = Buffer.from(good);
    bad[i] = bad[i]! ^ x;
    try {
      decodeBlock(bad);
    } catch (err) {
      assert.ok(err instanceof BlockCodecError, `a BlockCodecError, not ${String(err)}`);
    }
  }), runs(100));
});
