/**
 * The gateway's input building blocks and the error body, defined once: every
 * route takes its numbers, times, identifiers and enums from here, so each
 * input is checked the same way (a finite number in a stated range, a time in
 * the range every store handles, text without NUL or lone surrogates) and the
 * OpenAPI document states the same rule the validator applies.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { AGENT_ID_PATTERN, FLOAT32_MAX, MAX_TIME_MS } from '@farmbrain/contracts';

// The bounds every boundary shares live in the contract: the last time every store handles, the float32 range.
export { MAX_TIME_MS, FLOAT32_MAX };

/**
 * Identifier-like text: no control character (C0, DEL, C1) and no lone
 * surrogate. Such characters cannot be stored or compared by Postgres (NUL) or
 * encoded as UTF-8 (lone surrogates). Ajv compiles patterns with the `u` flag,
 * where `[\ud800-\udfff]` matches a lone surrogate only, never a valid pair.
 */
export const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$';
/** Free text: as ID_PATTERN, but tab, newline and carriage return are allowed. */
export const TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f\\ud800-\\udfff]*$';
/** Epoch ms as digits, or an ISO 8601 date / date-time with a 4-digit year. */
export const TIME_PATTERN = '^(?:\\d{1,15}|\\d{4}-\\d{2}-\\d{2}(?:[Tt ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?(?:[Zz]|[+-]\\d{2}:?\\d{2})?)?)$';

type Opts = Record<string, unknown>;

/** One of `values` (a plain `enum`, which OpenAPI 3.0 understands, unlike `const`). */
export const Enum = <T extends string>(values: readonly T[], o: Opts = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...o });

/** An integer in [min, max] (JSON Schema `integer`: non-finite values never pass, see rejectNonFinite). */
export const Int = (min: number, max: number, o: Opts = {}) => Type.Integer({ minimum: min, maximum: max, ...o });

/** A finite number in [min, max]. */
export const Num = (min: number, max: number, o: Opts = {}) => Type.Number({ minimum: min, maximum: max, ...o });

/** An integer query parameter in [min, max], with its default. */
export const IntQuery = (min: number, max: number, dflt: number, description?: string) =>
  Type.Integer({ minimum: min, maximum: max, default: dflt, ...(description ? { description } : {}) });

/** Identifier-like text (ids, symbols, tags, labels, model names) of at most `max` characters. */
export const Id = (max: number, o: Opts = {}) => Type.String({ minLength: 1, maxLength: max, pattern: ID_PATTERN, ...o });

/** Free text of at most `max` characters. */
export const Text = (max: number, o: Opts = {}) => Type.String({ maxLength: max, pattern: TEXT_PATTERN, ...o });

/** A time in a query string: epoch ms (digits) or ISO 8601. */
export const TimeQuery = (description: string) =>
  Type.String({ maxLength: 40, pattern: TIME_PATTERN, description: `${description}; epoch milliseconds or ISO 8601 (years 1970-9999)` });

/** A time in a JSON body: epoch ms (an integer from 0 to MAX_TIME_MS) or an ISO 8601 string. */
export const TimeIn = (description = 'epoch milliseconds or ISO 8601') =>
  Type.Union([Int(0, MAX_TIME_MS), Type.String({ maxLength: 40, pattern: TIME_PATTERN })], { description: `${description} (years 1970-9999)` });

/** A vector of finite numbers; float32 vectors are bounded by FLOAT32_MAX. */
export const Vector = (maxItems: number, bound = FLOAT32_MAX, o: Opts = {}) =>
  Type.Array(Num(-bound, bound), { maxItems, ...o });

/** A consistency token (opaque; checked when decoded). */
export const Token = () =>
  Type.String({ maxLength: 2048, pattern: '^[A-Za-z0-9.:,_-]*$', description: 'consistencyToken of a write: the read waits (bounded) until it is applied' });

/** An agent id, as everywhere in farmbrain. */
export const AgentId = Type.String({ pattern: AGENT_ID_PATTERN.source, description: 'agent id, [A-Za-z0-9_-]{1,64}' });
export const AgentParams = Type.Object({ agentId: AgentId });

/** `x` or null (a JSON Schema type list: fast to serialize, `nullable` in OpenAPI 3.0). */
export const Nullable = <T extends TSchema>(x: T) => {
  const s = x as unknown as { type?: unknown };
  if (typeof s.type === 'string') return Type.Unsafe<Static<T> | null>({ ...(x as object), type: [s.type, 'null'] });
  return Type.Union([x, Type.Null()]);
};

/** A JSON object with any members (config, filters, memory snapshots): serialized whole. */
export const JsonObject = (description?: string) =>
  Type.Object({}, { additionalProperties: true, ...(description ? { description } : {}) });

/** The one error body of every route. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'stable code; see the table in the gateway README' }),
    message: Type.String({ description: 'what went wrong and what to do' }),
    details: Type.Optional(Type.Array(JsonObject(), { description: 'VALIDATION_FAILED: the schema errors; INVALID_EVENT: one { index, code, field, message } per issue' })),
  }),
}, { description: 'an error' });

/** What each documented error status means (the response description in OpenAPI). */
const ERROR_MEANING: Record<number, string> = {
  400: 'VALIDATION_FAILED, INVALID_REQUEST, BAD_REQUEST, INVALID_CURSOR, INVALID_EVENT or INVALID_CONSISTENCY_TOKEN: the message names the parameter and what it accepts',
  403: 'SCOPE_FORBIDDEN or NOT_OWNER',
  404: 'UNKNOWN_AGENT (the agent has recorded no event yet) or NOT_FOUND',
  409: 'MEMORY_FORGOTTEN',
  410: 'RECORD_DELETED: retention deleted the record (GET /v1/lifecycle/explain/{recordId} says when and why)',
  413: 'PAYLOAD_TOO_LARGE: the body is over FB_GATEWAY_BODY_LIMIT',
  500: 'INTERNAL: a bug; see the gateway log. BLOCK_CORRUPT: a cold or archive block does not match its checksum',
  503: 'POSTGRES_UNAVAILABLE, REDIS_UNAVAILABLE, NATS_UNAVAILABLE, ARCHIVE_UNAVAILABLE, ANALYTICS_UNAVAILABLE (start the analytics service), FEED_FULL, PUBLISH_FAILED, CONSISTENCY_TIMEOUT or SERVICE_UNAVAILABLE: retry shortly',
};

/**
 * Response schemas for error statuses: `{ 400: ErrorBody, ... }`, each described; 500 is always included.
 * Typed per status, so a route's reply type (the TypeBox provider's union of its response schemas) stays exact.
 */
export function errorResponses<const S extends number>(...statuses: S[]): Record<S | 500, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {};
  for (const s of [...new Set<number>([...statuses, 500])].sort()) out[s] = Object.assign({}, ErrorBody, { description: ERROR_MEANING[s] ?? 'an error' });
  return out;
}

/** A page of a listing: newest first, `nextCursor` null on the last page. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Nullable(Type.String({ description: 'pass back as `cursor` for the next page' })),
  });
