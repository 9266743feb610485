import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeEvent,
  defaultEventLimits,
  encodeEvent,
  ENVELOPE_RULES,
  EVENT_TYPES,
  FLOAT32_MAX,
  isUuidV7,
  JSON_MAX_DEPTH,
  limitOf,
  MAX_TIME_MS,
  PAYLOAD_RULES,
  REASON_CODES,
  SCHEMA_VERSION,
  textProblem,
  validateEvent,
  type EventLimits,
  type EventType,
  type FarmEvent,
  type IdRule,
  type Rule,
  type ValidationContext,
} from './index.js';

// CI: a fixed seed, so a failure reproduces. Locally, FB_PROPERTY_RUNS=100000 runs longer with a fresh seed (printed on failure).
const LOCAL_RUNS = Number(process.env.FB_PROPERTY_RUNS ?? '');
const RUN_PARAMS: fc.Parameters<[FarmEvent]> = LOCAL_RUNS > 0 ? { numRuns: LOCAL_RUNS } : { seed: 42, numRuns: 4000 };

const NOW = 1_700_000_000_000;
// Small deployment limits, so that "one over the limit" is cheap to generate.
const limits: EventLimits = { ...defaultEventLimits(), maxTextChars: 48, maxTags: 4, maxVectorDims: 6, maxCheckpointBytes: 32 };
const ctx: ValidationContext = { limits, now: NOW };

// ---- arbitraries, generated from the rule table --------------------------------------------------

const HOSTILE_CHARS = ['\u0000', '\u0001', '\u0008', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f', '\ud800', '\udbff', '\udc00', '\udfff', '\t', '\n', '\r', '\u2028', '\ufffe', '\ud83d\ude80'];
const anyString = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: fc.constantFrom(...HOSTILE_CHARS, 'a', 'é', '"', '\\'), maxLength }),
  );
/** Any string with at least one NUL, control character or surrogate half injected. */
const hostileString = (maxLength: number) =>
  fc.tuple(anyString(maxLength), fc.constantFrom(...HOSTILE_CHARS), anyString(maxLength)).map(([a, c, b]) => a + c + b);

const BAD_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g;
const BAD_ID = /[\u0000-\u001F\u007F-\u009F]/g;
/** Keeps whole code points while the string fits in `max` UTF-16 units (never cuts a pair in two). */
const fit = (s: string, max: number): string => {
  let out = '';
  for (const cp of s) {
    if (out.length + cp.length > max) break;
    out += cp;
  }
  return out;
};
const wellFormed = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
const validString = (max: number, minLength: number, bad: RegExp) =>
  fc
    .oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'Z', '7', ' ', '-', 'é', '🚀', '\t', '\n'), maxLength: 12 }))
    .map((s) => fit(wellFormed(s).replace(bad, ''), max))
    .map((s) => (s.length < minLength ? 'x' : s));

const HOSTILE_NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number('1e309'), -0, 0, 1, -1, 1.5, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 3.5e38, FLOAT32_MAX, -FLOAT32_MAX, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, MAX_TIME_MS + 1, 1e20];
const hostileNumber = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(Number) },
);
const wrongType = fc.constantFrom<unknown>(null, 'str', 7, true, {}, [], [null], new Uint8Array(1));
const finite = (o: { min?: number; max?: number; minExcluded?: boolean; maxExcluded?: boolean } = {}) => fc.double({ noNaN: true, noDefaultInfinity: true, ...o });
const intIn = (min: number, max: number) => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

const jsonOf = (key: fc.Arbitrary<string>, str: fc.Arbitrary<string>, num: fc.Arbitrary<number>, extra: fc.Arbitrary<unknown>[]) =>
  fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      num,
      str,
      ...extra,
      fc.array(tie('value'), { maxLength: 3 }),
      tie('object'),
    ),
    object: fc.dictionary(key, tie('value'), { maxKeys: 3 }),
  })).object;

const nested = (levels: number): Record<string, unknown> => (levels === 1 ? { leaf: 1 } : { n: nested(levels - 1) });
const validJson = jsonOf(validString(12, 0, /\u0000/g), validString(12, 0, /\u0000/g), finite(), []);
const hostileJson = (maxChars: number) =>
  fc.oneof(
    jsonOf(anyString(6), anyString(6), hostileNumber, [fc.constant(undefined), fc.constant(new Date(0)), fc.constant(1n)]),
    fc.constantFrom<unknown>(nested(JSON_MAX_DEPTH + 1), { big: 'x'.repeat(maxChars) }, JSON.parse('{"a":1e400}'), { 'k\u0000': 1 }, { v: '\ud800' }, [1], null),
  );

function validOf(rule: Rule, field: string): fc.Arbitrary<unknown> {
  switch (rule.kind) {
    case 'text':
      return validString(limitOf(rule.max, limits), rule.required ? 1 : 0, BAD_TEXT);
    case 'id':
      return validId(rule, Boolean(rule.required));
    case 'enum':
      return fc.constantFrom(...rule.values);
    case 'bool':
      return fc.boolean();
    case 'number':
      return finite({ min: rule.min, max: rule.max, minExcluded: rule.minExclusive, maxExcluded: rule.maxExclusive });
    case 'int':
      return intIn(rule.min, rule.max);
    case 'time':
      if (field === 'occurredAt') return intIn(-limits.maxPastSkewMs, limits.maxFutureSkewMs).map((d) => NOW + d);
      return fc.oneof(fc.constant(0), intIn(1, MAX_TIME_MS));
    case 'schemaVersion':
      return fc.constant(SCHEMA_VERSION);
    case 'vector':
      return fc.array(rule.element === 'float32' ? finite({ min: -FLOAT32_MAX, max: FLOAT32_MAX }) : finite(), { maxLength: limitOf(rule.max, limits) });
    case 'list':
      return fc.array(validId(rule.item, true), { maxLength: limitOf(rule.max, limits) });
    case 'bytes':
      // Short random bytes, and now and then exactly the limit (zeros: random megabytes would only slow the run).
      return fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(limitOf(rule.max, limits))) });
    case 'json':
      return validJson;
    case 'objects':
      return fc.array(recordOf(rule.fields as Record<string, Rule>), { maxLength: 3 });
  }
}

function validId(rule: IdRule, required: boolean): fc.Arbitrary<string> {
  if (rule.format === 'uuidv7') return fc.uuid({ version: 7 });
  const some = rule.pattern ? fc.stringMatching(rule.pattern) : validString(rule.max, 1, BAD_ID);
  return required ? some : fc.oneof(fc.constant(''), some);
}

function hostileOf(rule: Rule): fc.Arbitrary<unknown> {
  switch (rule.kind) {
    case 'text':
    case 'id': {
      const max = rule.kind === 'id' ? rule.max : limitOf(rule.max, limits);
      return fc.oneof(hostileString(6), fc.constant('x'.repeat(max + 1)), fc.constant(''), anyString(max));
    }
    case 'enum':
      return fc.oneof(fc.constant(''), hostileString(4), fc.constantFrom(...rule.values).map((v) => `${v}\u0000`));
    case 'bool':
      return wrongType;
    case 'number':
    case 'int':
    case 'time':
      return fc.oneof(hostileNumber, fc.constantFrom(...edgesOf(rule)));
    case 'schemaVersion':
      return fc.oneof(hostileNumber, fc.constantFrom(SCHEMA_VERSION + 1, 2 ** 32 + SCHEMA_VERSION));
    case 'vector':
      return fc.array(fc.oneof(finite(), hostileNumber), { minLength: 1, maxLength: limitOf(rule.max, limits) + 1 });
    case 'list':
      return fc.array(fc.oneof(validId(rule.item, true), hostileString(4), fc.constant('x'.repeat(rule.item.max + 1)), fc.constant('')), { minLength: 1, maxLength: limitOf(rule.max, limits) + 1 });
    case 'bytes':
      return fc.constant(new Uint8Array(limitOf(rule.max, limits) + 1));
    case 'json':
      return hostileJson(rule.maxChars);
    case 'objects':
      return fc.oneof(
        fc.array(fc.record(Object.fromEntries(Object.entries(rule.fields as Record<string, Rule>).map(([k, r]) => [k, anyOf(r, k)]))), { minLength: 1, maxLength: 3 }),
        fc.constant(Array.from({ length: rule.max + 1 }, () => ({ memoryId: 'm', version: 1, score: 0, tier: 'hot' }))),
      );
  }
}

/** Values at and just beyond the bounds of a numeric rule. */
function edgesOf(rule: Extract<Rule, { kind: 'number' | 'int' | 'time' }>): number[] {
  const step = (x: number, dir: 1 | -1) => x + dir * Math.max(Math.abs(x) * Number.EPSILON, Number.MIN_VALUE);
  switch (rule.kind) {
    case 'int':
      return [rule.min - 1, rule.min, rule.max, rule.max + 1, rule.min + 0.5];
    case 'time':
      return [-1, 0, 1, MAX_TIME_MS, MAX_TIME_MS + 1, 1.5];
    case 'number':
      return [
        ...(rule.min === undefined ? [] : [rule.min, step(rule.min, -1)]),
        ...(rule.max === undefined ? [] : [rule.max, step(rule.max, 1)]),
      ].concat(Number.MAX_VALUE);
  }
}

/** Mostly valid values (so that many whole events pass), some hostile ones, a few of the wrong JS type. */
const anyOf = (rule: Rule, field: string): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 40, arbitrary: validOf(rule, field) }, { weight: 3, arbitrary: hostileOf(rule) }, { weight: 1, arbitrary: wrongType });

/** A record with a key per rule; keys of optional rules may be absent. */
const recordOf = (rules: Record<string, Rule>, mix = false) => {
  const model = Object.fromEntries(Object.entries(rules).map(([k, r]) => [k, mix ? anyOf(r, k) : validOf(r, k)]));
  return fc.record(model, { requiredKeys: Object.keys(rules).filter((k) => !rules[k]!.optional) });
};

/** Events of a type: every field valid, exactly one field hostile (the sharpest test of each rule), or every field mixed. */
const eventOf = (type: EventType): fc.Arbitrary<FarmEvent> => {
  const envelope = ENVELOPE_RULES as Record<string, Rule>;
  const payload = PAYLOAD_RULES[type] as Record<string, Rule>;
  const build = (mix: boolean) =>
    fc.record({
      ...Object.fromEntries(Object.keys(envelope).map((k) => [k, mix ? anyOf(envelope[k]!, k) : validOf(envelope[k]!, k)])),
      type: fc.constant(type),
      data: recordOf(payload, mix),
    }) as unknown as fc.Arbitrary<FarmEvent>;
  const fields = [...Object.keys(envelope).map((k) => ({ k, rule: envelope[k]!, inData: false })), ...Object.keys(payload).map((k) => ({ k, rule: payload[k]!, inData: true }))];
  const oneBad = fc.tuple(build(false), fc.constantFrom(...fields)).chain(([e, f]) =>
    fc.oneof({ weight: 4, arbitrary: hostileOf(f.rule) }, { weight: 1, arbitrary: wrongType }).map((bad) =>
      (f.inData ? { ...e, data: { ...e.data, [f.k]: bad } } : { ...e, [f.k]: bad }) as FarmEvent));
  return fc.oneof(build(false), oneBad, oneBad, build(true));
};
const anyEvent = fc.oneof(...EVENT_TYPES.map(eventOf));

// ---- the oracle: what "storable" means, written independently of validateEvent -------------------

const storableString = (s: unknown): boolean => typeof s === 'string' && (s as unknown as { isWellFormed(): boolean }).isWellFormed() && !s.includes('\u0000');

function problemsOf(v: unknown, rule: Rule, path: string, out: string[]): void {
  const no = (why: string): void => {
    out.push(`${path}: ${why}`);
  };
  if (v === undefined) {
    if (!rule.optional) no('missing');
    return;
  }
  switch (rule.kind) {
    case 'text':
    case 'id': {
      const max = rule.kind === 'id' ? rule.max : limitOf(rule.max, limits);
      if (!storableString(v)) return no('not storable text');
      const s = v as string;
      if (s.length > max) no('too long');
      if (rule.required && s === '') no('empty');
      if (new RegExp((rule.kind === 'id' ? BAD_ID : BAD_TEXT).source).test(s)) no('control character');
      if (rule.kind === 'id' && s !== '' && rule.format === 'uuidv7' && !isUuidV7(s)) no('not a uuidv7');
      if (rule.kind === 'id' && s !== '' && rule.pattern && !rule.pattern.test(s)) no('pattern');
      return;
    }
    case 'enum':
      if (!(rule.values as readonly unknown[]).includes(v)) no('not in enum');
      return;
    case 'bool':
      if (typeof v !== 'boolean') no('not boolean');
      return;
    case 'number': {
      const x = v as number;
      if (typeof x !== 'number' || !Number.isFinite(x)) return no('not finite');
      if (rule.min !== undefined && (rule.minExclusive ? !(x > rule.min) : !(x >= rule.min))) no('below min');
      if (rule.max !== undefined && (rule.maxExclusive ? !(x < rule.max) : !(x <= rule.max))) no('above max');
      return;
    }
    case 'int':
      if (!Number.isSafeInteger(v) || (v as number) < rule.min || (v as number) > rule.max) no('int out of range');
      return;
    case 'time':
      if (!Number.isSafeInteger(v) || (v as number) < (rule.zeroMeansNever ? 0 : 1) || (v as number) > MAX_TIME_MS) no('time out of range');
      return;
    case 'schemaVersion':
      if (v !== SCHEMA_VERSION) no('schema version');
      return;
    case 'vector': {
      const a = v as number[];
      if (!Array.isArray(a) || a.length > limitOf(rule.max, limits)) return no('vector shape');
      if (!a.every((x) => typeof x === 'number' && Number.isFinite(x) && (rule.element === 'float64' || Math.abs(x) <= FLOAT32_MAX))) no('vector element');
      if (rule.element === 'float32' && !a.every((x) => Number.isFinite(Math.fround(x)))) no('float32 overflow');
      return;
    }
    case 'list': {
      const a = v as unknown[];
      if (!Array.isArray(a) || a.length > limitOf(rule.max, limits)) return no('list shape');
      a.forEach((x, i) => (x === '' ? no(`item ${i} empty`) : problemsOf(x, rule.item, `${path}.${i}`, out)));
      return;
    }
    case 'bytes':
      if (!(v instanceof Uint8Array) || v.byteLength > limitOf(rule.max, limits)) no('bytes');
      return;
    case 'json': {
      const walk = (x: unknown, depth: number): void => {
        if (typeof x === 'string') {
          if (!storableString(x)) no('json string');
        } else if (typeof x === 'number') {
          if (!Number.isFinite(x)) no('json number');
        } else if (Array.isArray(x)) {
          if (depth > JSON_MAX_DEPTH) no('json depth');
          else x.forEach((y) => (y === undefined ? no('json undefined item') : walk(y, depth + 1)));
        } else if (x !== null && typeof x === 'object') {
          if (depth > JSON_MAX_DEPTH) no('json depth');
          else for (const [k, y] of Object.entries(x)) {
            if (!storableString(k)) no('json key');
            if (y !== undefined) walk(y, depth + 1);
          }
        } else if (typeof x !== 'boolean' && x !== null) no(`json ${typeof x}`);
      };
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return no('json not an object');
      walk(v, 1);
      if (JSON.stringify(v).length > rule.maxChars) no('json too large');
      return;
    }
    case 'objects': {
      const a = v as Record<string, unknown>[];
      if (!Array.isArray(a) || a.length > rule.max) return no('objects shape');
      a.forEach((o, i) => {
        for (const [k, r] of Object.entries(rule.fields as Record<string, Rule>)) problemsOf(o[k], r, `${path}.${i}.${k}`, out);
      });
    }
  }
}

function storageProblems(e: FarmEvent): string[] {
  const out: string[] = [];
  const ev = e as unknown as Record<string, unknown>;
  for (const [k, r] of Object.entries(ENVELOPE_RULES as Record<string, Rule>)) problemsOf(ev[k], r, k, out);
  const data = ev.data as Record<string, unknown>;
  for (const [k, r] of Object.entries(PAYLOAD_RULES[e.type] as Record<string, Rule>)) problemsOf(data[k], r, `data.${k}`, out);
  if (e.occurredAt > NOW + limits.maxFutureSkewMs || e.occurredAt < NOW - limits.maxPastSkewMs) out.push('occurredAt skew');
  return out;
}

/** The event as JSON sees it: bytes as base64, float32 vectors rounded as protobuf stores them when `f32`. */
function jsonView(e: FarmEvent, f32: boolean): unknown {
  const data: Record<string, unknown> = { ...(e.data as unknown as Record<string, unknown>) };
  for (const [k, r] of Object.entries(PAYLOAD_RULES[e.type] as Record<string, Rule>)) {
    const v = data[k];
    if (r.kind === 'bytes' && v !== undefined) data[k] = Buffer.from(v as Uint8Array).toString('base64');
    if (r.kind === 'vector' && r.element === 'float32' && f32) data[k] = (v as number[]).map(Math.fround);
  }
  return { ...e, data };
}

/** Deep equality of JSON data: numbers by value (-0 equals 0), undefined properties count as absent. */
function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort();
  const ka = keys(a);
  const kb = keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ---- the property -----------------------------------------------------------------------------

test('validateEvent - property: never throws; an accepted event is storable and survives JSON and protobuf; a rejection names its field', () => {
  const accepted = new Map<string, number>();
  const known = new Set<string>(REASON_CODES);
  const topLevel = new Set([...Object.keys(ENVELOPE_RULES), 'type', 'data']);
  fc.assert(
    fc.property(anyEvent, (e) => {
      let issues;
      try {
        issues = validateEvent(e, ctx);
      } catch (err) {
        throw new Error(`validateEvent threw: ${String(err)}`);
      }
      if (issues.length === 0) {
        accepted.set(e.type, (accepted.get(e.type) ?? 0) + 1);
        assert.deepEqual(storageProblems(e), []);
        const view = jsonView(e, false);
        assert.ok(sameJson(JSON.parse(JSON.stringify(view)), view), 'JSON round trip changed the event');
        const decoded = decodeEvent(encodeEvent(e));
        assert.deepEqual(validateEvent(decoded, ctx), [], 'the decoded event no longer validates');
        assert.ok(sameJson(jsonView(decoded, false), jsonView(e, true)), 'protobuf round trip changed the event');
      } else {
        const fields = issues.map((i) => i.field);
        assert.equal(new Set(fields).size, fields.length, `more than one issue for a field: ${fields.join(', ')}`);
        for (const i of issues) {
          assert.ok(known.has(i.code), `unknown code ${i.code}`);
          assert.ok(i.field !== '' && topLevel.has(i.field.split('.')[0]!), `bad field path '${i.field}'`);
          assert.ok(i.message.length > 0 && i.message.includes(i.field), `message does not name ${i.field}: ${i.message}`);
          assert.equal(textProblem(i.message, 'identifier'), undefined, `message is not printable: ${JSON.stringify(i.message)}`);
        }
      }
    }),
    RUN_PARAMS,
  );
  // The generator is not vacuous: every event type was accepted some of the time.
  for (const type of EVENT_TYPES) assert.ok((accepted.get(type) ?? 0) > 0, `no ${type} event was ever accepted`);
});
