import { SCHEMA_VERSION } from './events.js';
import {
  FLOAT32_MAX,
  JSON_MAX_DEPTH,
  MAX_TIME_MS,
  limitOf,
  rangeOf,
  type IdRule,
  type JsonRule,
  type NumberRule,
  type Rule,
} from './fieldRules.js';
import { isUuidV7 } from './ids.js';
import { describeTextProblem, printable, textProblem, type TextMode } from './textRule.js';
import type { ReasonCode, ValidationIssue } from './issues.js';
import type { EventLimits } from './limits.js';

/**
 * Checks one field against its rule. Returns at most one issue (a list reports
 * its first bad item, at `path.<index>`), so one mistake never cascades.
 * Never throws, whatever the value: a value of the wrong JS type is an issue too.
 */
export function checkField(value: unknown, rule: Rule, path: string, limits: EventLimits): ValidationIssue | undefined {
  try {
    return check(value, rule, path, limits, false);
  } catch (err) {
    return issue('INVALID_FIELD', path, `${path} could not be read (${printable(String((err as Error)?.message ?? err), 120)}); pass plain data`);
  }
}

const issue = (code: ReasonCode, field: string, message: string): ValidationIssue => ({ code, field, message });

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : `a ${typeof v}`);

const wrongType = (path: string, want: string, v: unknown) => issue('INVALID_FIELD', path, `${path} must be ${want}, got ${typeName(v)}`);

function check(v: unknown, rule: Rule, path: string, L: EventLimits, inList: boolean): ValidationIssue | undefined {
  if (v === undefined) {
    if (rule.optional) return undefined;
    return issue('MISSING_FIELD', path, `${path} is required`);
  }
  switch (rule.kind) {
    case 'text': {
      if (typeof v !== 'string') return wrongType(path, 'a string', v);
      if (v === '' && rule.required) return issue('MISSING_FIELD', path, `${path} is required (non-empty text)`);
      return lengthIssue(v, limitOf(rule.max, L), path) ?? textIssue(v, path, 'text');
    }
    case 'id':
      return checkId(v, rule, path, inList);
    case 'enum': {
      if (typeof v !== 'string') return wrongType(path, `one of ${rule.values.join(', ')}`, v);
      if (v === '') return issue('MISSING_FIELD', path, `${path} is required (one of ${rule.values.join(', ')})`);
      if (!rule.values.includes(v)) return issue('INVALID_FIELD', path, `${path} must be one of ${rule.values.join(', ')}; got '${printable(v, 32)}'`);
      return undefined;
    }
    case 'bool':
      return typeof v === 'boolean' ? undefined : wrongType(path, 'true or false', v);
    case 'number': {
      if (typeof v !== 'number') return wrongType(path, 'a number', v);
      return inRange(v, rule) ? undefined : outOfRange(path, v, rangeOf(rule));
    }
    case 'int': {
      if (typeof v !== 'number') return wrongType(path, 'an integer', v);
      if (v === 0 && rule.required) return issue('MISSING_FIELD', path, `${path} is required (${rangeOf(rule)})`);
      return Number.isSafeInteger(v) && v >= rule.min && v <= rule.max ? undefined : outOfRange(path, v, rangeOf(rule));
    }
    case 'time': {
      if (typeof v !== 'number') return wrongType(path, 'epoch milliseconds (a number)', v);
      if (v === 0) {
        if (rule.zeroMeansNever) return undefined;
        if (rule.required) return issue('MISSING_FIELD', path, `${path} (epoch ms) is required`);
      }
      return Number.isSafeInteger(v) && v >= 1 && v <= MAX_TIME_MS ? undefined : outOfRange(path, v, rangeOf(rule));
    }
    case 'schemaVersion':
      return v === SCHEMA_VERSION
        ? undefined
        : issue('UNSUPPORTED_SCHEMA', path, `${path} ${typeof v === 'number' ? v : printable(String(v), 16)} is not supported; this deployment reads ${SCHEMA_VERSION}`);
    case 'vector': {
      if (!isNumberList(v)) return wrongType(path, 'an array of numbers', v);
      const max = limitOf(rule.max, L);
      if (v.length > max) return issue('TOO_LARGE', path, `${path} has ${v.length} dimensions; the limit is ${max}`);
      const f32 = rule.element === 'float32';
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number') return wrongType(`${path}.${i}`, 'a number', x);
        const bound = Math.min(rule.bound ?? Infinity, f32 ? FLOAT32_MAX : Infinity);
        if (!Number.isFinite(x) || Math.abs(x) > bound) {
          return outOfRange(`${path}.${i}`, x, f32 ? `a finite float32, from -${FLOAT32_MAX} to ${FLOAT32_MAX}`
            : Number.isFinite(bound) ? `a finite number from -${bound} to ${bound}` : 'a finite number');
        }
      }
      return undefined;
    }
    case 'list': {
      if (!Array.isArray(v)) return wrongType(path, 'an array of strings', v);
      const max = limitOf(rule.max, L);
      if (v.length > max) return issue('TOO_LARGE', path, `${path} has ${v.length} entries; the limit is ${max}`);
      for (let i = 0; i < v.length; i++) {
        const found = checkId(v[i], rule.item, `${path}.${i}`, true);
        if (found) return found;
      }
      return undefined;
    }
    case 'bytes': {
      if (!(v instanceof Uint8Array)) return wrongType(path, 'bytes (a Uint8Array)', v);
      const max = limitOf(rule.max, L);
      if (rule.nonEmpty && v.byteLength === 0) return issue('INVALID_FIELD', path, `${path} is empty; leave it out instead (protobuf cannot tell empty bytes from absent ones)`);
      return v.byteLength > max ? issue('TOO_LARGE', path, `${path} is ${v.byteLength} bytes; the limit is ${max}`) : undefined;
    }
    case 'json':
      return checkJson(v, rule, path);
    case 'objects': {
      if (!Array.isArray(v)) return wrongType(path, 'an array of objects', v);
      if (v.length > rule.max) return issue('TOO_LARGE', path, `${path} has ${v.length} entries; the limit is ${rule.max}`);
      const fields = Object.entries(rule.fields as Record<string, Rule>);
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (item === null || typeof item !== 'object' || Array.isArray(item)) return wrongType(`${path}.${i}`, 'an object', item);
        for (const [k, r] of fields) {
          const found = check((item as Record<string, unknown>)[k], r, `${path}.${i}.${k}`, L, false);
          if (found) return found;
        }
      }
      return undefined;
    }
  }
}

function checkId(v: unknown, rule: IdRule, path: string, inList: boolean): ValidationIssue | undefined {
  if (typeof v !== 'string') return wrongType(path, 'a string', v);
  if (v === '') {
    if (inList) return issue('INVALID_FIELD', path, `${path} is empty; entries must be 1..${rule.max} characters`);
    if (rule.required) return issue('MISSING_FIELD', path, `${path} is required`);
    return undefined;
  }
  const found = lengthIssue(v, rule.max, path) ?? textIssue(v, path, 'identifier');
  if (found) return found;
  if (rule.format === 'uuidv7' && !isUuidV7(v)) return issue('INVALID_FIELD', path, `${path} '${printable(v)}' is not a UUIDv7`);
  if (rule.pattern && !rule.pattern.test(v)) return issue('INVALID_FIELD', path, `${path} '${printable(v)}' must match ${rule.pattern}`);
  return undefined;
}

const lengthIssue = (v: string, max: number, path: string): ValidationIssue | undefined =>
  v.length > max ? issue('TOO_LARGE', path, `${path} has ${v.length} characters; the limit is ${max}`) : undefined;

function textIssue(v: string, path: string, mode: TextMode): ValidationIssue | undefined {
  const p = textProblem(v, mode);
  return p ? issue('INVALID_TEXT', path, describeTextProblem(path, p, mode)) : undefined;
}

function inRange(v: number, r: NumberRule): boolean {
  if (!Number.isFinite(v)) return false;
  if (r.min !== undefined && (r.minExclusive ? v <= r.min : v < r.min)) return false;
  if (r.max !== undefined && (r.maxExclusive ? v >= r.max : v > r.max)) return false;
  return true;
}

const outOfRange = (path: string, v: number, range: string) => issue('OUT_OF_RANGE', path, `${path} must be ${range}, got ${v}`);

const isNumberList = (v: unknown): v is ArrayLike<unknown> =>
  Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array;

/** `$.a.b[0]["odd key"]`, with keys printable. */
const jsonPath = (parent: string, key: string | number): string =>
  typeof key === 'number' ? `${parent}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}["${printable(key, 32).replace(/"/g, '\\"')}"]`;

const isPlainObject = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Deep check of a JSON object field: reports the first bad place, as `path` with a `$…` location in the message. */
function checkJson(v: unknown, rule: JsonRule, path: string): ValidationIssue | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !isPlainObject(v)) return wrongType(path, 'a JSON object', v);
  const visit = (x: unknown, at: string, depth: number, inArray: boolean): ValidationIssue | undefined => {
    switch (typeof x) {
      case 'string':
        return jsonText(x, path, at, 'value');
      case 'number':
        return Number.isFinite(x) ? undefined : issue('OUT_OF_RANGE', path, `${path} holds ${x} at ${at}; JSON numbers must be finite (1e400 parses as Infinity): send a finite number or a string`);
      case 'boolean':
        return undefined;
      case 'undefined':
        // JSON.stringify drops an undefined property but turns an undefined array item into null.
        return inArray ? issue('INVALID_FIELD', path, `${path} holds undefined at ${at}; use null`) : undefined;
      case 'object': {
        if (x === null) return undefined;
        if (depth >= JSON_MAX_DEPTH) return issue('TOO_LARGE', path, `${path} nests deeper than ${JSON_MAX_DEPTH} levels at ${at} (or refers to itself); flatten it`);
        if (Array.isArray(x)) {
          for (let i = 0; i < x.length; i++) {
            const found = visit(x[i], jsonPath(at, i), depth + 1, true);
            if (found) return found;
          }
          return undefined;
        }
        if (!isPlainObject(x)) {
          return issue('INVALID_FIELD', path, `${path} holds ${typeName(x)} at ${at}; only JSON values (objects, arrays, strings, finite numbers, booleans, null) are stored: convert it first (e.g. a Date to its ISO string)`);
        }
        for (const k of Object.keys(x)) {
          const where = jsonPath(at, k);
          const found = jsonText(k, path, where, 'key') ?? visit((x as Record<string, unknown>)[k], where, depth + 1, false);
          if (found) return found;
        }
        return undefined;
      }
      default:
        // bigint, function, symbol: JSON.stringify throws on or drops them.
        return issue('INVALID_FIELD', path, `${path} holds ${typeName(x)} at ${at}; only JSON values (objects, arrays, strings, finite numbers, booleans, null) are stored`);
    }
  };
  const found = visit(v, '$', 0, false);
  if (found) return found;
  const size = JSON.stringify(v).length;
  return size > rule.maxChars ? issue('TOO_LARGE', path, `${path} is ${size} characters as JSON; the limit is ${rule.maxChars}`) : undefined;
}

function jsonText(s: string, path: string, at: string, what: 'key' | 'value'): ValidationIssue | undefined {
  const p = textProblem(s, 'json');
  return p ? issue('INVALID_TEXT', path, describeTextProblem(`${path} (${what} at ${at})`, p, 'json')) : undefined;
}
