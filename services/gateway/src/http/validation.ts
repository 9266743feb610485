/**
 * Request validation beyond what Ajv does alone, and the one way a validation
 * failure is told to the client.
 *
 * Why a non-finite check: fastify's Ajv coerces query strings, path parameters
 * (and body strings) to the declared type with `"x" == +"x"`, which turns
 * "Infinity" and "1e309" into Infinity. Ajv's default `strictNumbers` then
 * skips every numeric keyword (minimum, maximum) for a non-finite number, so
 * `limit=Infinity` passed `{ type: 'integer', minimum: 1, maximum: 1000 }`
 * and reached Postgres as `LIMIT Infinity` (a 500). `rejectNonFinite` runs
 * after validation on every route with a schema and refuses any number that
 * is not finite, wherever it is (query, params, body, free-form JSON objects).
 */
import type { FastifyRequest } from 'fastify';
import { FarmbrainError } from '@farmbrain/contracts';
import { ID_PATTERN, TEXT_PATTERN, TIME_PATTERN } from './schemas.js';

/** One schema error, as Ajv reports it (and as `details` carries it). */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** 400 VALIDATION_FAILED: the request does not match the route's schema; the message names the parameter and what it accepts. */
export class ValidationFailedError extends FarmbrainError {
  constructor(message: string, readonly details: readonly SchemaError[]) {
    super('VALIDATION_FAILED', message);
    this.name = 'ValidationFailedError';
  }
}

type Part = 'params' | 'querystring' | 'body' | 'headers';
const LABEL: Record<Part, string> = { params: 'path parameter', querystring: 'query parameter', body: 'body field', headers: 'header' };
const PARTS: readonly Part[] = ['params', 'querystring', 'body'];

/** The JSON Schema keywords the gateway's route schemas use (what this file and the route fuzzer read of them). */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  description?: string;
  format?: string;
  required?: string[];
  nullable?: boolean;
}

const dataOf = (req: FastifyRequest, part: Part): unknown =>
  part === 'params' ? req.params : part === 'querystring' ? req.query : part === 'headers' ? req.headers : req.body;

const schemaOf = (req: FastifyRequest, part: Part): JsonSchema | undefined =>
  (req.routeOptions.schema as Record<string, JsonSchema | undefined> | undefined)?.[part];

const segments = (instancePath: string): string[] =>
  instancePath === '' ? [] : instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** The sub-schema that describes the value at `path` (undefined when the schema does not say). */
export function schemaAt(schema: JsonSchema | undefined, path: readonly string[]): JsonSchema | undefined {
  if (!schema || path.length === 0) return schema;
  const [head, ...rest] = path as [string, ...string[]];
  if (schema.anyOf) {
    for (const branch of schema.anyOf) {
      const s = schemaAt(branch, path);
      if (s) return s;
    }
    return undefined;
  }
  if (schema.properties && Object.hasOwn(schema.properties, head)) return schemaAt(schema.properties[head], rest);
  if (schema.items && /^\d+$/.test(head)) return schemaAt(schema.items, rest);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') return schemaAt(schema.additionalProperties, rest);
  return undefined;
}

const valueAt = (data: unknown, path: readonly string[]): unknown => {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
};

const fieldName = (path: readonly string[]): string =>
  path.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');

const range = (min: number | undefined, max: number | undefined): string =>
  min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` >= ${min}` : max !== undefined ? ` <= ${max}` : '';

/** What a schema accepts, in words ("an integer from 1 to 1000"). */
export function describeSchema(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(describeSchema).join(', or ');
  if (s.enum) return `one of ${s.enum.map((v) => String(v)).join(', ')}`;
  const type = Array.isArray(s.type) ? s.type.filter((t) => t !== 'null')[0] : s.type;
  const orNull = Array.isArray(s.type) && s.type.includes('null') ? ' or null' : '';
  switch (type) {
    case 'integer':
      return `an integer${range(s.minimum, s.maximum)}${orNull}`;
    case 'number':
      return `a finite number${range(s.minimum, s.maximum)}${orNull}`;
    case 'boolean':
      return `true or false${orNull}`;
    case 'string': {
      const len = s.minLength !== undefined && s.minLength > 0 && s.maxLength !== undefined ? ` of ${s.minLength} to ${s.maxLength} characters`
        : s.maxLength !== undefined ? ` of at most ${s.maxLength} characters` : s.minLength ? ` of at least ${s.minLength} characters` : '';
      if (s.pattern === TIME_PATTERN) return 'a time: epoch milliseconds or an ISO 8601 date-time, years 1970 to 9999';
      if (s.pattern === ID_PATTERN) return `a string${len} without control characters or lone surrogates`;
      if (s.pattern === TEXT_PATTERN) return `text${len} without NUL, control characters (tab, newline and CR are fine) or lone surrogates`;
      return `a string${len}${s.pattern ? ` matching ${s.pattern}` : ''}${orNull}`;
    }
    case 'array': {
      const n = s.minItems && s.maxItems !== undefined ? ` of ${s.minItems} to ${s.maxItems} items` : s.maxItems !== undefined ? ` of at most ${s.maxItems} items` : s.minItems ? ` of at least ${s.minItems} items` : '';
      return `a list${n}${s.items ? `, each ${describeSchema(s.items)}` : ''}${orNull}`;
    }
    case 'object':
      return `a JSON object${orNull}`;
    case 'null':
      return 'null';
    default:
      return 'a valid value';
  }
}

const show = (v: unknown): string => {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'string') {
    const j = JSON.stringify(v.length > 48 ? `${v.slice(0, 48)}…` : v);
    return v.length > 48 ? `${j} (${v.length} characters)` : j;
  }
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return v === undefined ? 'nothing' : 'an object';
};

/**
 * The message of a failed validation: which parameter, what it accepts, and
 * what it got, e.g. "query parameter 'limit' must be an integer from 1 to 1000 (got Infinity)".
 */
export function validationMessage(part: Part, errors: readonly SchemaError[], schema: JsonSchema | undefined, data: unknown): string {
  const e = errors[0];
  if (!e) return `the ${part} is invalid`;
  const path = segments(e.instancePath);
  const where = (p: readonly string[]) => (p.length === 0 ? (part === 'body' ? 'the body' : `the ${LABEL[part]}s`) : `${LABEL[part]} '${fieldName(p)}'`);
  const target = schemaAt(schema, path);
  if (e.keyword === 'required') {
    const missing = String(e.params?.missingProperty ?? '');
    const sub = schemaAt(target, [missing]);
    return `${where([...path, missing])} is required${sub ? `: ${describeSchema(sub)}` : ''}`;
  }
  if (e.keyword === 'additionalProperties') {
    const extra = String(e.params?.additionalProperty ?? '');
    const accepted = Object.keys(target?.properties ?? {});
    return `${where([...path, extra])} is not accepted${accepted.length ? `; accepted: ${accepted.join(', ')}` : ''}`;
  }
  const value = valueAt(data, path);
  const what = target ? describeSchema(target) : (e.message ?? 'is invalid').replace(/^must be /, '');
  const got = path.length === 0 && part !== 'body' ? '' : ` (got ${show(value)})`;
  return `${where(path)} must be ${what}${got}`;
}

/** A fastify validation error as the ValidationFailedError the client gets. */
export function validationFailed(req: FastifyRequest, part: string | undefined, errors: readonly SchemaError[]): ValidationFailedError {
  const p = (PARTS as readonly string[]).includes(part ?? '') || part === 'headers' ? (part as Part) : 'body';
  const details = errors.map(({ keyword, instancePath, schemaPath, params, message }) => ({ keyword, instancePath, schemaPath, params, message }));
  return new ValidationFailedError(validationMessage(p, errors, schemaOf(req, p), dataOf(req, p)), details);
}

/** JSON pointer of the first number in `data` that is not finite (iterative: any depth). */
export function findNonFinite(data: unknown): string | undefined {
  const stack: [unknown, string][] = [[data, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}/${i}`]);
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`]);
    }
  }
  return undefined;
}

/** preHandler: refuses any non-finite number that passed the schema (see the file comment). */
export async function rejectNonFinite(req: FastifyRequest): Promise<void> {
  if (!req.routeOptions.schema) return;
  for (const part of PARTS) {
    const schema = schemaOf(req, part);
    if (!schema) continue;
    const data = dataOf(req, part);
    const at = findNonFinite(data);
    if (at === undefined) continue;
    const errors: SchemaError[] = [{ keyword: 'finite', instancePath: at, schemaPath: '', params: {}, message: 'must be a finite number' }];
    const path = segments(at);
    const target = schemaAt(schema, path);
    const what = target && /integer|number/.test(String(target.type ?? target.anyOf?.map((b) => b.type).join())) ? describeSchema(target) : 'a finite number';
    const where = path.length === 0 ? 'the body' : `${LABEL[part]} '${fieldName(path)}'`;
    throw new ValidationFailedError(`${where} must be ${what} (got ${String(valueAt(data, path))})`, errors);
  }
}
