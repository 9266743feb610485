import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import {
  defaultEventLimits,
  ENVELOPE_RULES,
  EVENT_TYPES,
  FLOAT32_MAX, SITUATION_BOUND, AMOUNT_MAX, PNL_MAX,
  INT32_MAX,
  JSON_MAX_DEPTH,
  MAX_TIME_MS,
  newEventId,
  PAYLOAD_RULES,
  REASON_CODES,
  SCHEMA_VERSION,
  textProblem,
  validateEvent,
  type EventPayloads,
  type EventType,
  type FarmEvent,
  type Rule,
  type ValidationContext,
  type ValidationIssue,
} from './index.js';

const NOW = 1_700_000_000_000;
// Read as the log holds events (fields farmbrain writes itself, such as sealed memory content, are there).
const ctx: ValidationContext = { limits: defaultEventLimits(), now: NOW, fromLog: true };

const meta = () => ({
  eventId: newEventId(), agentId: 'a-1', producerSeq: 7, occurredAt: NOW, correlationId: 'c', causationId: '', schemaVersion: SCHEMA_VERSION,
});

/** One valid payload per type, with every field present (optional ones too). */
const PAYLOADS: { [T in EventType]: EventPayloads[T] } = {
  agent_registered: { name: 'A', team: 'alpha', strategy: 's', config: { k: [1, 2], s: 'x' } },
  decision_made: { symbol: 'BTC', action: 'sell', size: 2, confidence: 0.25, rationale: 'why', situation: [0.5, -1.25], memoryIds: ['m1'], recallIds: ['r1'] },
  trade_executed: { orderId: 'o', symbol: 'BTC', side: 'buy', qty: 1.5, price: 100.25, fees: 0.5, decisionId: 'd' },
  position_closed: { symbol: 'BTC', realizedPnl: -12.5, decisionIds: ['d'], exitPrice: 99 },
  checkpoint_saved: { label: 'x', state: new Uint8Array([0, 1, 255]) },
  memory_stored: { memoryId: 'm', kind: 'lesson', text: 't', tags: ['a'], importance: 0.5, embedding: [0.5, 0.25], scope: 'team', scopeId: 'red', expiresAt: 1_800_000_000_000, sourceEventIds: ['e'], situation: [1], embeddingModel: 'client', sealed: new Uint8Array([1, 2]) },
  memory_updated: { memoryId: 'm', text: 'new', tags: ['b'], replaceTags: true, importance: 0.9, embedding: [0.5], expiresAt: 0, embeddingModel: 'client', sealed: new Uint8Array([3]) },
  memory_forgotten: { memoryId: 'm', reason: 'stale' },
  agent_state_changed: { status: 'paused', reason: 'risk', config: { max: 1 } },
  memory_recalled: { queryText: 'btc breakout', queryVector: [0.5], filters: { kinds: ['lesson'] }, k: 5, hits: [{ memoryId: 'm', version: 2, score: 0.25, tier: 'hot' }], embeddingModel: 'farmbrain/hash-v1', latencyMs: 4.25 },
  records_moved: { kind: 'decision', fromTier: 'warm', toTier: 'cold', dayMs: 1_699_920_000_000, recordIds: ['r'], policy: 'decision.coldAfterDays', reason: 'older than 7 days' },
  legal_hold_changed: { held: true, recordIds: ['r'], reason: 'audit 42', operator: 'ops' },
  memories_consolidated: { canonicalMemoryId: 'c', mergedIds: ['m1', 'm2'], text: 'lesson', representativeId: 'm1', method: 'representative', similarityThreshold: 0.9, reason: '2 near-duplicates' },
  agent_restored: { checkpointId: 'cp', reason: 'bad run', operator: 'ops' },
  memory_erased: { memoryId: 'm', reason: 'data subject request', operator: 'ops' },
  alert_changed: { alertId: '018bcfe5-6800-7000-8000-000000000001', rule: 'lag', metric: 'consumer_lag', state: 'firing', severity: 'warning', subject: 'tiering_v1', value: 5000, threshold: 1000, message: 'tiering is behind', firedAt: 1_700_000_000_000 },
};

const sample = <T extends EventType>(type: T, data: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}): FarmEvent =>
  ({ ...meta(), ...envelope, type, data: { ...structuredClone(PAYLOADS[type]), ...data } }) as unknown as FarmEvent;

const issuesOf = (e: FarmEvent, c = ctx): string[] => validateEvent(e, c).map((i) => `${i.code}:${i.field}`);

/** Every (type, field, rule) of the payload table, plus the envelope as type 'decision_made'. */
const payloadFields = EVENT_TYPES.flatMap((type) => Object.entries(PAYLOAD_RULES[type] as Record<string, Rule>).map(([field, rule]) => ({ type, field, rule })));
const envelopeFields = Object.entries(ENVELOPE_RULES as Record<string, Rule>).map(([field, rule]) => ({ field, rule }));

/** A valid value of a string field with `bad` inserted in the middle (where the field is a string, a list, hits or JSON). */
function withBad(type: EventType, field: string, rule: Rule, bad: string): { value: unknown; at: string; code?: string } | undefined {
  const base = (PAYLOADS[type] as unknown as Record<string, unknown>)[field];
  switch (rule.kind) {
    case 'text':
    case 'id': {
      const s = typeof base === 'string' && base !== '' ? base : 'ab';
      return { value: `${s.slice(0, 1)}${bad}${s.slice(1)}`, at: `data.${field}` };
    }
    case 'list':
      return { value: ['ok', `x${bad}y`], at: `data.${field}.1` };
    case 'json':
      return { value: { fine: 1, [`k${bad}`]: 'v' }, at: `data.${field}` };
    case 'objects':
      return { value: [{ memoryId: `m${bad}`, version: 1, score: 0, tier: 'hot' }], at: `data.${field}.0.memoryId` };
    case 'enum':
      return { value: `${rule.values[0]}${bad}`, at: `data.${field}`, code: 'INVALID_FIELD' };
    default:
      return undefined;
  }
}

test('validateEvent - the sample of every event type is valid, with every field of the table present', () => {
  for (const type of EVENT_TYPES) {
    assert.deepEqual(issuesOf(sample(type)), [], type);
    assert.deepEqual(Object.keys(PAYLOADS[type]).sort(), Object.keys(PAYLOAD_RULES[type]).sort(), type);
  }
});

test('validateEvent - a field farmbrain writes itself (sealed memory content) is refused from a producer, accepted on the log', () => {
  for (const type of ['memory_stored', 'memory_updated'] as const) {
    assert.deepEqual(issuesOf(sample(type), { ...ctx, fromLog: false }), ['INVALID_FIELD:data.sealed'], type);
    assert.deepEqual(issuesOf(sample(type, { sealed: undefined }), { ...ctx, fromLog: false }), [], type);
    assert.deepEqual(issuesOf(sample(type, { sealed: new Uint8Array() })), ['INVALID_FIELD:data.sealed'], `${type}: empty sealed bytes`);
  }
});

test('validateEvent - a NUL in any text field of any event type is INVALID_TEXT naming the field, U+0000 and its index', () => {
  let checked = 0;
  for (const { type, field, rule } of payloadFields) {
    const bad = withBad(type, field, rule, '\u0000');
    if (!bad) continue;
    const found = validateEvent(sample(type, { [field]: bad.value }), ctx);
    assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), [`${bad.code ?? 'INVALID_TEXT'}:${bad.at}`], `${type}.${field}`);
    if (!bad.code) assert.match(found[0]!.message, /U\+0000 \(NUL\) at index 1/, `${type}.${field}`);
    checked++;
  }
  for (const { field, rule } of envelopeFields) {
    if (rule.kind !== 'id') continue;
    const found = validateEvent(sample('decision_made', {}, { [field]: 'a\u0000b' }), ctx);
    assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), [`INVALID_TEXT:${field}`], field);
    checked++;
  }
  assert.ok(checked >= 40, `checked ${checked} fields`);
});

test('validateEvent - a JSON field with a NUL in a key or a value, or a lone surrogate, is INVALID_TEXT with its place', () => {
  for (const config of [{ 'a\u0000': 1 }, { a: { b: ['x', 'y\u0000'] } }, { a: '\ud800' }, { '\udc00': true }]) {
    const found = validateEvent(sample('agent_registered', { config }), ctx);
    assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), ['INVALID_TEXT:data.config'], JSON.stringify(config));
  }
  const [deep] = validateEvent(sample('memory_recalled', { filters: { a: { b: ['x', 'y\u0000'] } } }), ctx);
  assert.match(deep!.message, /data\.filters \(value at \$\.a\.b\[1\]\) contains U\+0000 \(NUL\) at index 1/);
  const [key] = validateEvent(sample('agent_state_changed', { config: { 'bad\u0000key': 1 } }), ctx);
  assert.match(key!.message, /key at \$\["bad\\u0000key"\]/);
});

test('validateEvent - a lone surrogate in any text field is INVALID_TEXT; a proper pair (emoji) is fine', () => {
  for (const lone of ['\ud800', '\udfff']) {
    for (const { type, field, rule } of payloadFields) {
      const bad = withBad(type, field, rule, lone);
      if (!bad) continue;
      const found = validateEvent(sample(type, { [field]: bad.value }), ctx);
      assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), [`${bad.code ?? 'INVALID_TEXT'}:${bad.at}`], `${type}.${field}`);
      if (!bad.code) assert.match(found[0]!.message, new RegExp(`lone surrogate U\\+${lone.charCodeAt(0).toString(16).toUpperCase()} at index 1`));
    }
  }
  assert.deepEqual(issuesOf(sample('memory_stored', { text: 'moon 🚀', tags: ['🚀'], memoryId: 'm-🚀' })), []);
  assert.deepEqual(issuesOf(sample('agent_registered', { config: { '🚀': '🚀' } })), []);
});

test('validateEvent - text allows tab, newline and CR; identifiers allow no control character at all', () => {
  assert.deepEqual(issuesOf(sample('decision_made', { rationale: 'a\tb\nc\r\nd' })), []);
  assert.deepEqual(issuesOf(sample('memory_stored', { text: 'esc \u001b[0m' })), ['INVALID_TEXT:data.text']);
  assert.deepEqual(issuesOf(sample('memory_stored', { text: 'del \u007f and C1 \u0085 are text' })), []);
  for (const c of ['\t', '\n', '\u001f', '\u007f', '\u0085', '\u009f']) {
    assert.deepEqual(issuesOf(sample('decision_made', { symbol: `BT${c}C` })), ['INVALID_TEXT:data.symbol'], JSON.stringify(c));
  }
  const [i] = validateEvent(sample('checkpoint_saved', { label: 'ab\tc' }), ctx);
  assert.match(i!.message, /^data\.label contains control character U\+0009 at index 2; identifiers may not contain control characters/);
  assert.deepEqual(textProblem('ok\r\n', 'text'), undefined);
  assert.deepEqual(textProblem('x\u0001', 'text'), { codePoint: 1, index: 1, kind: 'control' });
  assert.deepEqual(textProblem('ab\udc00\u0000', 'json'), { codePoint: 0xdc00, index: 2, kind: 'surrogate' });
});

test('validateEvent - NaN, ±Infinity and 1e309 in every numeric field are OUT_OF_RANGE naming the field, the value and the range', () => {
  const hostile = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number('1e309')];
  let checked = 0;
  for (const { type, field, rule } of payloadFields) {
    for (const x of hostile) {
      let value: unknown;
      let at = `data.${field}`;
      if (rule.kind === 'number' || rule.kind === 'int' || rule.kind === 'time') value = x;
      else if (rule.kind === 'vector') [value, at] = [[0.5, x], `data.${field}.1`];
      else if (rule.kind === 'objects') [value, at] = [[{ memoryId: 'm', version: 1, score: x, tier: 'hot' }], `data.${field}.0.score`];
      else continue;
      const found = validateEvent(sample(type, { [field]: value }), ctx);
      assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), [`OUT_OF_RANGE:${at}`], `${type}.${field} = ${x}`);
      assert.ok(found[0]!.message.startsWith(`${at} must be `) && found[0]!.message.endsWith(`got ${x}`), found[0]!.message);
      checked++;
    }
  }
  for (const { field, rule } of envelopeFields) {
    if (rule.kind !== 'int' && rule.kind !== 'time' && rule.kind !== 'schemaVersion') continue;
    for (const x of hostile) {
      const found = validateEvent(sample('trade_executed', {}, { [field]: x }), ctx);
      assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), [`${rule.kind === 'schemaVersion' ? 'UNSUPPORTED_SCHEMA' : 'OUT_OF_RANGE'}:${field}`], `${field} = ${x}`);
      checked++;
    }
  }
  assert.ok(checked >= 80, `checked ${checked}`);
  const [pnl] = validateEvent(sample('position_closed', { exitPrice: Number.POSITIVE_INFINITY }), ctx);
  assert.equal(pnl!.message, 'data.exitPrice must be a finite number between 0 and 1000000000000000, got Infinity');
  const [conf] = validateEvent(sample('decision_made', { confidence: 1.5 }), ctx);
  assert.equal(conf!.message, 'data.confidence must be a finite number between 0 and 1, got 1.5');
});

test('validateEvent - number bounds keep their meaning: qty and price > 0, size and fees >= 0, importance and confidence 0..1, amounts within AMOUNT_MAX, P&L within PNL_MAX', () => {
  assert.deepEqual(issuesOf(sample('trade_executed', { qty: 0, price: 0 })), ['OUT_OF_RANGE:data.qty', 'OUT_OF_RANGE:data.price']);
  assert.deepEqual(issuesOf(sample('trade_executed', { qty: Number.MIN_VALUE, fees: 0 })), []);
  assert.deepEqual(issuesOf(sample('trade_executed', { fees: -0.01 })), ['OUT_OF_RANGE:data.fees']);
  assert.deepEqual(issuesOf(sample('decision_made', { size: 0, confidence: 1 })), []);
  assert.deepEqual(issuesOf(sample('decision_made', { size: -1, confidence: -0.1 })), ['OUT_OF_RANGE:data.size', 'OUT_OF_RANGE:data.confidence']);
  assert.deepEqual(issuesOf(sample('memory_stored', { importance: 1.0000001 })), ['OUT_OF_RANGE:data.importance']);
  assert.deepEqual(issuesOf(sample('position_closed', { realizedPnl: -PNL_MAX, exitPrice: 0 })), []);
  // Beyond these, position arithmetic (sums, volume-weighted prices) would overflow to Infinity.
  assert.deepEqual(issuesOf(sample('position_closed', { realizedPnl: -1e300, exitPrice: AMOUNT_MAX * 2 })), ['OUT_OF_RANGE:data.realizedPnl', 'OUT_OF_RANGE:data.exitPrice']);
  assert.deepEqual(issuesOf(sample('trade_executed', { qty: AMOUNT_MAX, price: AMOUNT_MAX, fees: AMOUNT_MAX })), []);
  assert.deepEqual(issuesOf(sample('trade_executed', { qty: Number.MAX_VALUE, price: 1e16 })), ['OUT_OF_RANGE:data.qty', 'OUT_OF_RANGE:data.price']);
});

test('validateEvent - integers: k 1..1000, hit versions 1..2^31-1, producerSeq a positive safe integer (0 = missing)', () => {
  for (const k of [0, 1001, 1.5, -1]) assert.deepEqual(issuesOf(sample('memory_recalled', { k })), ['OUT_OF_RANGE:data.k'], String(k));
  assert.deepEqual(issuesOf(sample('memory_recalled', { k: 1000 })), []);
  const hit = (version: number) => sample('memory_recalled', { hits: [{ memoryId: 'm', version, score: 1, tier: 'warm' }] });
  assert.deepEqual(issuesOf(hit(INT32_MAX)), []);
  for (const v of [0, INT32_MAX + 1, 2 ** 32, 1.5]) assert.deepEqual(issuesOf(hit(v)), ['OUT_OF_RANGE:data.hits.0.version'], String(v));
  assert.deepEqual(issuesOf(sample('memory_recalled', { hits: [{ memoryId: 'm', version: 1, score: 1, tier: 'cold' }] })), ['INVALID_FIELD:data.hits.0.tier']);
  assert.deepEqual(issuesOf(sample('memory_recalled', { hits: [{ memoryId: '', version: 1, score: 1, tier: 'hot' }] })), ['MISSING_FIELD:data.hits.0.memoryId']);
  assert.deepEqual(issuesOf(sample('memory_recalled', { hits: Array.from({ length: 1001 }, () => ({ memoryId: 'm', version: 1, score: 0, tier: 'hot' })) })), ['TOO_LARGE:data.hits']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { producerSeq: 0 })), ['MISSING_FIELD:producerSeq']);
  for (const s of [-1, 2 ** 53, 1.5]) assert.deepEqual(issuesOf(sample('decision_made', {}, { producerSeq: s })), ['OUT_OF_RANGE:producerSeq'], String(s));
  assert.deepEqual(issuesOf(sample('decision_made', {}, { producerSeq: Number.MAX_SAFE_INTEGER })), []);
});

test('validateEvent - times: expiresAt is 0 (never) or an integer epoch ms up to the year 9999; occurredAt is required', () => {
  for (const expiresAt of [0, 1, MAX_TIME_MS]) assert.deepEqual(issuesOf(sample('memory_stored', { expiresAt })), [], String(expiresAt));
  for (const expiresAt of [-1, MAX_TIME_MS + 1, 1e20, 2 ** 63, 1.5]) {
    const found = validateEvent(sample('memory_stored', { expiresAt }), ctx);
    assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), ['OUT_OF_RANGE:data.expiresAt'], String(expiresAt));
    assert.match(found[0]!.message, /0 \(never\) or epoch milliseconds from 1 to 253402300799999/);
  }
  assert.deepEqual(issuesOf(sample('memory_updated', { expiresAt: 1e20 })), ['OUT_OF_RANGE:data.expiresAt']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { occurredAt: 0 })), ['MISSING_FIELD:occurredAt']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { occurredAt: 1e20 })), ['OUT_OF_RANGE:occurredAt']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { occurredAt: NOW + 3_600_000 })), ['CLOCK_SKEW:occurredAt']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { occurredAt: NOW - 8 * 24 * 3_600_000 })), ['CLOCK_SKEW:occurredAt']);
});

test('validateEvent - float32 fields (embedding, queryVector) refuse values beyond float32 range; situations take float64 up to SITUATION_BOUND', () => {
  assert.deepEqual(issuesOf(sample('memory_stored', { embedding: [FLOAT32_MAX, -FLOAT32_MAX, 1e-50] })), []);
  const found = validateEvent(sample('memory_stored', { embedding: [1, 3.5e38] }), ctx);
  assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), ['OUT_OF_RANGE:data.embedding.1']);
  assert.match(found[0]!.message, /finite float32/);
  assert.deepEqual(issuesOf(sample('memory_updated', { embedding: [-1e39] })), ['OUT_OF_RANGE:data.embedding.0']);
  assert.deepEqual(issuesOf(sample('memory_recalled', { queryVector: [4e38] })), ['OUT_OF_RANGE:data.queryVector.0']);
  assert.deepEqual(issuesOf(sample('memory_stored', { situation: [1e39, -SITUATION_BOUND] })), []);
  // Beyond it, outcome-linked recall's squared distances would overflow float64.
  assert.deepEqual(issuesOf(sample('memory_stored', { situation: [1e300, -1e300] })), ['OUT_OF_RANGE:data.situation.0']);
  assert.deepEqual(issuesOf(sample('decision_made', { situation: [0, -1e151] })), ['OUT_OF_RANGE:data.situation.1']);
  assert.deepEqual(issuesOf(sample('memory_stored', { embedding: new Float32Array([0.5, 1]) })), []);
  assert.deepEqual(issuesOf(sample('decision_made', { situation: new Array(4097).fill(0) })), ['TOO_LARGE:data.situation']);
});

test('validateEvent - identifier lengths fit a btree index: symbol 64, ids 128, labels 256, tags 1..64, team and scopeId the team pattern', () => {
  const cases: [EventType, string, number][] = [
    ['decision_made', 'symbol', 64], ['trade_executed', 'orderId', 128], ['trade_executed', 'decisionId', 128], ['position_closed', 'symbol', 64],
    ['checkpoint_saved', 'label', 256], ['memory_stored', 'memoryId', 128], ['memory_updated', 'memoryId', 128], ['memory_forgotten', 'memoryId', 128],
    ['memory_stored', 'embeddingModel', 128], ['memory_recalled', 'embeddingModel', 128], ['agent_registered', 'team', 64], ['memory_stored', 'scopeId', 64],
  ];
  for (const [type, field, max] of cases) {
    assert.deepEqual(issuesOf(sample(type, { [field]: 'x'.repeat(max) })), [], `${type}.${field} at ${max}`);
    assert.deepEqual(issuesOf(sample(type, { [field]: 'x'.repeat(max + 1) })), [`TOO_LARGE:data.${field}`], `${type}.${field} at ${max + 1}`);
  }
  assert.deepEqual(issuesOf(sample('decision_made', { memoryIds: ['ok', 'x'.repeat(129)] })), ['TOO_LARGE:data.memoryIds.1']);
  assert.deepEqual(issuesOf(sample('memory_stored', { tags: ['', 'a'] })), ['INVALID_FIELD:data.tags.0']);
  assert.deepEqual(issuesOf(sample('memory_stored', { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })), ['TOO_LARGE:data.tags']);
  assert.deepEqual(issuesOf(sample('decision_made', { recallIds: Array.from({ length: 65 }, (_, i) => `r${i}`) })), ['TOO_LARGE:data.recallIds']);
  assert.deepEqual(issuesOf(sample('agent_registered', { team: 'the desk' })), ['INVALID_FIELD:data.team']);
  assert.deepEqual(issuesOf(sample('agent_registered', { team: '' })), []);
  assert.deepEqual(issuesOf(sample('memory_stored', { scopeId: 'red team' })), ['INVALID_FIELD:data.scopeId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { correlationId: 'x'.repeat(129) })), ['TOO_LARGE:correlationId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { causationId: 'x'.repeat(129) })), ['TOO_LARGE:causationId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { agentId: 'x'.repeat(65) })), ['TOO_LARGE:agentId']);
  assert.deepEqual(issuesOf(sample('memory_stored', { text: 'x'.repeat(16_385) })), ['TOO_LARGE:data.text']);
});

test('validateEvent - JSON fields: numbers finite (1e400 parses as Infinity), at most 32 levels, only JSON values, bounded size', () => {
  const parsed = JSON.parse('{"a":{"b":1e400}}') as Record<string, unknown>;
  const [inf] = validateEvent(sample('agent_registered', { config: parsed }), ctx);
  assert.equal(`${inf!.code}:${inf!.field}`, 'OUT_OF_RANGE:data.config');
  assert.match(inf!.message, /holds Infinity at \$\.a\.b/);
  assert.deepEqual(issuesOf(sample('memory_recalled', { filters: { minImportance: Number.NaN } })), ['OUT_OF_RANGE:data.filters']);
  const nest = (levels: number): Record<string, unknown> => (levels === 1 ? { leaf: 1 } : { n: nest(levels - 1) });
  assert.deepEqual(issuesOf(sample('agent_registered', { config: nest(JSON_MAX_DEPTH) })), []);
  assert.deepEqual(issuesOf(sample('agent_registered', { config: nest(JSON_MAX_DEPTH + 1) })), ['TOO_LARGE:data.config']);
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.deepEqual(issuesOf(sample('agent_registered', { config: cyclic })), ['TOO_LARGE:data.config']);
  for (const config of [{ at: new Date(0) }, { n: 1n }, { f: () => 1 }, { list: [undefined] }, { m: new Map() }]) {
    assert.deepEqual(issuesOf(sample('agent_registered', { config })), ['INVALID_FIELD:data.config'], String(Object.keys(config)));
  }
  for (const config of [[1, 2], null, 'text', new Date(0)]) {
    assert.deepEqual(issuesOf(sample('agent_state_changed', { config })), ['INVALID_FIELD:data.config'], String(config));
  }
  assert.deepEqual(issuesOf(sample('agent_registered', { config: { dropped: undefined, n: null, b: false, a: [1, 'x', { y: -0 }] } })), []);
  assert.deepEqual(issuesOf(sample('memory_recalled', { filters: { big: 'x'.repeat(70_000) } })), ['TOO_LARGE:data.filters']);
  assert.deepEqual(issuesOf(sample('agent_state_changed', { config: undefined })), []);
});

test('validateEvent - scope and scopeId: team scope needs the team, other scopes leave it empty', () => {
  assert.deepEqual(issuesOf(sample('memory_stored', { scope: 'team', scopeId: '' })), ['MISSING_FIELD:data.scopeId']);
  assert.deepEqual(issuesOf(sample('memory_stored', { scope: 'fleet', scopeId: 'red' })), ['INVALID_FIELD:data.scopeId']);
  assert.deepEqual(issuesOf(sample('memory_stored', { scope: 'agent', scopeId: '' })), []);
  // The pairing is not checked on top of a bad scope or scopeId: one issue per field, no cascades.
  assert.deepEqual(issuesOf(sample('memory_stored', { scope: 'galaxy', scopeId: 'red' })), ['INVALID_FIELD:data.scope']);
  assert.deepEqual(issuesOf(sample('memory_stored', { scope: 'team', scopeId: 'r\u0000' })), ['INVALID_TEXT:data.scopeId']);
});

test('validateEvent - enums, required fields and the envelope keep their codes', () => {
  assert.deepEqual(issuesOf(sample('decision_made', { action: '' })), ['MISSING_FIELD:data.action']);
  assert.deepEqual(issuesOf(sample('trade_executed', { side: 'sideways' })), ['INVALID_FIELD:data.side']);
  assert.deepEqual(issuesOf(sample('memory_stored', { text: '', memoryId: '' })), ['MISSING_FIELD:data.memoryId', 'MISSING_FIELD:data.text']);
  assert.deepEqual(issuesOf(sample('agent_registered', { name: '' })), ['MISSING_FIELD:data.name']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { eventId: '' })), ['MISSING_FIELD:eventId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { eventId: 'not-a-uuid' })), ['INVALID_FIELD:eventId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { agentId: 'bad agent' })), ['INVALID_FIELD:agentId']);
  // An alert id is a UUID (the alerts table's key): anything else is refused by ingest rather than dead-lettered by analytics.
  assert.deepEqual(issuesOf(sample('alert_changed', { alertId: 'al-1' })), ['INVALID_FIELD:data.alertId']);
  assert.deepEqual(issuesOf(sample('alert_changed', { alertId: '' })), ['MISSING_FIELD:data.alertId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { schemaVersion: 2 })), ['UNSUPPORTED_SCHEMA:schemaVersion']);
  assert.deepEqual(issuesOf(sample('decision_made'), { ...ctx, subjectAgentId: 'other' }), ['AGENT_MISMATCH:agentId']);
  assert.deepEqual(issuesOf(sample('decision_made', {}, { agentId: 'bad agent' }), { ...ctx, subjectAgentId: 'other' }), ['INVALID_FIELD:agentId']);
  assert.deepEqual(issuesOf(sample('checkpoint_saved'), { ...ctx, encodedBytes: ctx.limits.maxEventBytes + 1 }), ['TOO_LARGE:']);
  assert.deepEqual(issuesOf(sample('checkpoint_saved', { state: new Uint8Array(ctx.limits.maxCheckpointBytes + 1) })), ['TOO_LARGE:data.state']);
  assert.deepEqual(issuesOf(sample('memory_updated', { text: undefined, importance: undefined, expiresAt: undefined })), []);
  assert.deepEqual(issuesOf(sample('memory_updated', { importance: 2 })), ['OUT_OF_RANGE:data.importance']);
});

test('validateEvent - values of the wrong JS type are issues, never exceptions', () => {
  const cases: [FarmEvent, string[]][] = [
    [sample('decision_made', { symbol: 42, confidence: '0.5', memoryIds: 'm1', situation: [1, '2'] }), ['INVALID_FIELD:data.symbol', 'INVALID_FIELD:data.confidence', 'INVALID_FIELD:data.situation.1', 'INVALID_FIELD:data.memoryIds']],
    [sample('checkpoint_saved', { state: [1, 2, 3] }), ['INVALID_FIELD:data.state']],
    [sample('memory_updated', { replaceTags: 'yes' }), ['INVALID_FIELD:data.replaceTags']],
    [sample('memory_recalled', { hits: [null] }), ['INVALID_FIELD:data.hits.0']],
    [sample('memory_stored', { tags: undefined }), ['MISSING_FIELD:data.tags']],
    [{ ...sample('decision_made'), data: null } as unknown as FarmEvent, ['MISSING_FIELD:data']],
    [{ ...sample('memory_stored'), data: [] } as unknown as FarmEvent, ['MISSING_FIELD:data']],
    [{ ...sample('decision_made'), type: 'nope' } as unknown as FarmEvent, ['INVALID_FIELD:type']],
    [{ ...sample('decision_made'), eventId: undefined, producerSeq: '7' } as unknown as FarmEvent, ['MISSING_FIELD:eventId', 'INVALID_FIELD:producerSeq']],
  ];
  for (const [e, want] of cases) assert.deepEqual(issuesOf(e), want);
  const throwing = { get boom() { throw new Error('no'); } };
  assert.deepEqual(issuesOf(sample('agent_registered', { config: throwing })), ['INVALID_FIELD:data.config']);
  assert.deepEqual(validateEvent(null as unknown as FarmEvent, ctx).map((i) => i.code), ['MISSING_FIELD']);
});

test('validateEvent - a list reports its first bad entry only, and messages never echo raw control characters', () => {
  const found = validateEvent(sample('memory_stored', { tags: ['a\u0000', '', 'x'.repeat(100)] }), ctx);
  assert.deepEqual(found.map((i) => `${i.code}:${i.field}`), ['INVALID_TEXT:data.tags.0']);
  const issues: ValidationIssue[] = [
    ...validateEvent(sample('decision_made', {}, { eventId: 'bad\r\nid\u0000\ud800' }), ctx),
    ...validateEvent(sample('decision_made', {}, { agentId: 'a\nb' }), { ...ctx, subjectAgentId: 'x\r\ny' }),
    ...validateEvent(sample('memory_stored', { scope: 'te\u0000am' }), ctx),
    ...validateEvent(sample('agent_registered', { config: { 'k\u0000\ud800\n': 1 } }), ctx),
  ];
  assert.ok(issues.length >= 4);
  for (const i of issues) assert.equal(textProblem(i.message, 'identifier'), undefined, i.message);
});

test('validateEvent - every reason code the contracts return is one of REASON_CODES', () => {
  assert.ok((REASON_CODES as readonly string[]).includes('INVALID_TEXT'));
  const dir = new URL('.', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js') && !n.includes('.test.'))) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/(?:issue\(|code: )'([A-Z_]+)'/g)) used.add(m[1]!);
  }
  assert.ok(used.size >= 7, [...used].join(', '));
  for (const code of used) assert.ok((REASON_CODES as readonly string[]).includes(code), `${code} is not in REASON_CODES`);
});
