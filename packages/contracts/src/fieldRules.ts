import {
  ACTIONS,
  ALERT_METRICS,
  ALERT_SEVERITIES,
  ALERT_STATES,
  AGENT_STATUSES,
  MEMORY_KINDS,
  MEMORY_TIERS,
  RECORD_KINDS,
  SCOPES,
  SIDES,
  TIERS,
  type EventMeta,
  type EventPayloads,
  type EventType,
  type JsonObject,
} from './events.js';
import { AGENT_ID_PATTERN } from './subjects.js';
import type { EventLimits } from './limits.js';

/**
 * One rule for every field of every event: the table below is the single source
 * of what an event may hold. `validateEvent` walks it, the gateway derives its
 * HTTP JSON shapes from it, and the property test generates events from it.
 * Its promise: an event that passes is storable everywhere downstream
 * (protobuf, Postgres text/jsonb/btree, Redis JSON) without a deterministic error.
 */

/** A team name: in `team:<name>` scope keys, `agent_registered.team` and `memory_stored.scopeId`. */
export const TEAM_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Largest finite float32 (FLT_MAX). `repeated float` fields beyond it become Infinity when encoded. */
export const FLOAT32_MAX = 3.4028234663852886e38;
/** 9999-12-31T23:59:59.999Z: the last epoch ms every store (Postgres to_timestamp, ISO strings) handles. */
export const MAX_TIME_MS = 253_402_300_799_999;
/** Postgres `integer`, the column type of memory versions. */
export const INT32_MAX = 2_147_483_647;
/** Deepest nesting of a JSON field (objects and arrays count one level each). */
export const JSON_MAX_DEPTH = 32;

/** A deployment limit a rule can refer to instead of a fixed number. */
export type LimitKey = 'maxTextChars' | 'maxTags' | 'maxVectorDims' | 'maxCheckpointBytes' | 'maxEventBytes';
export type Limit = number | LimitKey;

/** The value of a limit under these deployment limits. */
export const limitOf = (max: Limit, limits: EventLimits): number => (typeof max === 'number' ? max : limits[max]);

interface Presence {
  /** The field may be absent (undefined): only for fields declared `field?:` in the model. */
  optional?: boolean;
}

/**
 * Free text (memory text, rationale, reason...). Tab, newline and carriage
 * return are allowed; NUL, other C0 controls and lone surrogates are not.
 */
export interface TextRule extends Presence {
  kind: 'text';
  /** Most UTF-16 code units. */
  max: Limit;
  /** '' is refused with MISSING_FIELD. */
  required?: boolean;
}

/**
 * Identifier-like text (ids, symbol, tags, labels, model names): no control
 * character at all (C0, DEL, C1), no lone surrogate, short enough for a btree index.
 */
export interface IdRule extends Presence {
  kind: 'id';
  max: number;
  required?: boolean;
  /** Whole-string pattern a non-empty value must match (its length bound included). */
  pattern?: RegExp;
  /** Special formats checked by code. */
  format?: 'uuidv7';
}

export interface EnumRule<V extends string = string> extends Presence {
  kind: 'enum';
  values: readonly V[];
}

export interface BoolRule extends Presence {
  kind: 'bool';
}

/** A finite float64 within optional bounds. */
export interface NumberRule extends Presence {
  kind: 'number';
  min?: number;
  max?: number;
  /** The bound itself is not allowed (e.g. qty > 0). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

/** A safe integer within [min, max]. */
export interface IntRule extends Presence {
  kind: 'int';
  min: number;
  max: number;
  /** 0 (the protobuf default) is refused with MISSING_FIELD rather than OUT_OF_RANGE. */
  required?: boolean;
}

/** Epoch milliseconds (an integer), from 1 to MAX_TIME_MS. */
export interface TimeRule extends Presence {
  kind: 'time';
  /** 0 is allowed and means "never". */
  zeroMeansNever?: boolean;
  /** 0 is refused with MISSING_FIELD. */
  required?: boolean;
}

/** The event's schema version: exactly SCHEMA_VERSION, else UNSUPPORTED_SCHEMA. */
export interface SchemaVersionRule extends Presence {
  kind: 'schemaVersion';
}

/** Numbers: float64 (`repeated double`) or float32 (`repeated float`, |x| ≤ FLOAT32_MAX), all finite. */
export interface VectorRule extends Presence {
  kind: 'vector';
  element: 'float64' | 'float32';
  max: Limit;
  /** Largest |x| allowed, when tighter than the element type's. */
  bound?: number;
}

/**
 * Largest quantity, price, size or fee of a trade: positions add and multiply
 * them (volume-weighted prices), which must stay finite float64 arithmetic.
 * 10^15 is far beyond any real order, in any unit.
 */
export const AMOUNT_MAX = 1e15;
/** Largest |realized P&L| of a close (summed over many closes in statistics). */
export const PNL_MAX = 1e18;

/**
 * Largest |x| of a situation feature: outcome-linked recall sums squared
 * differences of up to maxVectorDims features, which must stay a finite float64.
 */
export const SITUATION_BOUND = 1e150;

/** A list of identifier-like strings, each 1..item.max. */
export interface ListRule extends Presence {
  kind: 'list';
  max: Limit;
  item: IdRule;
}

export interface BytesRule extends Presence {
  kind: 'bytes';
  max: Limit;
  /** When present, at least one byte (an optional field: protobuf reads empty bytes back as absent). */
  nonEmpty?: boolean;
  /** Written by farmbrain itself (ingest): refused from producers (SDK, HTTP, NATS), accepted on the log. */
  internal?: boolean;
}

/**
 * A JSON object, checked deep: keys and string values well-formed without NUL,
 * numbers finite, only JSON values (plain objects, arrays, strings, numbers,
 * booleans, null), nesting ≤ JSON_MAX_DEPTH, JSON text ≤ maxChars.
 */
export interface JsonRule extends Presence {
  kind: 'json';
  maxChars: number;
}

/** A list of nested objects, each checked by its own field rules. */
export interface ObjectsRule<O = unknown> extends Presence {
  kind: 'objects';
  max: number;
  fields: RulesOf<O>;
}

export type Rule =
  | TextRule
  | IdRule
  | EnumRule
  | BoolRule
  | NumberRule
  | IntRule
  | TimeRule
  | SchemaVersionRule
  | VectorRule
  | ListRule
  | BytesRule
  | JsonRule
  | ObjectsRule;

/** The rule kinds that fit a field of type V (the compiler refuses a misfit, e.g. a number rule on a string). */
export type RuleFor<V> = [V] extends [boolean]
  ? BoolRule
  : [V] extends [string]
    ? string extends V
      ? TextRule | IdRule
      : EnumRule<V>
    : [V] extends [number]
      ? NumberRule | IntRule | TimeRule | SchemaVersionRule
      : [V] extends [Uint8Array]
        ? BytesRule
        : [V] extends [readonly number[]]
          ? VectorRule
          : [V] extends [readonly string[]]
            ? ListRule
            : [V] extends [readonly (infer O)[]]
              ? ObjectsRule<O>
              : [V] extends [JsonObject]
                ? JsonRule
                : never;

/** One rule per key of O, none missing; `optional: true` exactly where O allows undefined. */
export type RulesOf<O> = {
  [K in keyof O]-?: undefined extends O[K] ? RuleFor<Exclude<O[K], undefined>> & { optional: true } : RuleFor<O[K]> & { optional?: false };
};

/** A rule for a field that is always present. */
type Present<R> = R & { optional?: false };
const ID = 128;
const id = (o: Partial<Omit<IdRule, 'kind' | 'optional'>> = {}): Present<IdRule> => ({ kind: 'id', max: ID, ...o });
const text = (o: Partial<Omit<TextRule, 'kind' | 'optional'>> = {}): Present<TextRule> => ({ kind: 'text', max: 'maxTextChars', ...o });
const ids = (max: number): Present<ListRule> => ({ kind: 'list', max, item: id() });
const symbol = (): Present<IdRule> => ({ kind: 'id', max: 64, required: true });
const model = (): Present<IdRule> => ({ kind: 'id', max: 128 });
const unit = (): Present<NumberRule> => ({ kind: 'number', min: 0, max: 1 });
const vector = (element: VectorRule['element'], bound?: number): Present<VectorRule> => ({ kind: 'vector', element, max: 'maxVectorDims', ...(bound ? { bound } : {}) });
const tags = (): Present<ListRule> => ({ kind: 'list', max: 'maxTags', item: { kind: 'id', max: 64 } });
const json = (maxChars: number): Present<JsonRule> => ({ kind: 'json', maxChars });
/** Ciphertext ingest writes (text and embedding of a memory): no larger than the event it came in (the deployment's event size limit). */
const sealed = (): BytesRule & { optional: true } => ({ kind: 'bytes', max: 'maxEventBytes', optional: true, nonEmpty: true, internal: true });

/** The envelope every event carries. Checked in this order, before the payload. */
export const ENVELOPE_RULES = {
  eventId: { kind: 'id', max: 36, required: true, format: 'uuidv7' },
  agentId: { kind: 'id', max: 64, required: true, pattern: AGENT_ID_PATTERN },
  producerSeq: { kind: 'int', min: 1, max: Number.MAX_SAFE_INTEGER, required: true },
  occurredAt: { kind: 'time', required: true },
  correlationId: id(),
  causationId: id(),
  schemaVersion: { kind: 'schemaVersion' },
} as const satisfies RulesOf<EventMeta>;

/**
 * Every payload field of every event type. Adding a field to the model without a
 * rule here is a compile error. Sizes of identifier-like fields keep a btree index
 * row well under Postgres' ~2.7 KB limit (128 UTF-16 units ≤ 512 bytes of UTF-8).
 */
export const PAYLOAD_RULES = {
  agent_registered: {
    name: text({ required: true }),
    team: { kind: 'id', max: 64, pattern: TEAM_NAME_PATTERN },
    strategy: text(),
    config: json(256 * 1024),
  },
  decision_made: {
    symbol: symbol(),
    action: { kind: 'enum', values: ACTIONS },
    size: { kind: 'number', min: 0, max: AMOUNT_MAX },
    confidence: unit(),
    rationale: text(),
    situation: vector('float64', SITUATION_BOUND),
    memoryIds: ids(256),
    recallIds: ids(64),
  },
  trade_executed: {
    orderId: id({ required: true }),
    symbol: symbol(),
    side: { kind: 'enum', values: SIDES },
    qty: { kind: 'number', min: 0, minExclusive: true, max: AMOUNT_MAX },
    price: { kind: 'number', min: 0, minExclusive: true, max: AMOUNT_MAX },
    fees: { kind: 'number', min: 0, max: AMOUNT_MAX },
    decisionId: id(),
  },
  position_closed: {
    symbol: symbol(),
    realizedPnl: { kind: 'number', min: -PNL_MAX, max: PNL_MAX },
    decisionIds: ids(256),
    exitPrice: { kind: 'number', min: 0, max: AMOUNT_MAX },
  },
  checkpoint_saved: {
    label: { kind: 'id', max: 256, required: true },
    state: { kind: 'bytes', max: 'maxCheckpointBytes' },
  },
  memory_stored: {
    memoryId: id({ required: true }),
    kind: { kind: 'enum', values: MEMORY_KINDS },
    text: text({ required: true }),
    tags: tags(),
    importance: unit(),
    embedding: vector('float32'),
    scope: { kind: 'enum', values: SCOPES },
    scopeId: { kind: 'id', max: 64, pattern: TEAM_NAME_PATTERN },
    expiresAt: { kind: 'time', zeroMeansNever: true },
    sourceEventIds: ids(256),
    situation: vector('float64', SITUATION_BOUND),
    embeddingModel: model(),
    sealed: sealed(),
  },
  memory_updated: {
    memoryId: id({ required: true }),
    text: { ...text(), optional: true },
    tags: tags(),
    replaceTags: { kind: 'bool' },
    importance: { ...unit(), optional: true },
    embedding: vector('float32'),
    expiresAt: { kind: 'time', zeroMeansNever: true, optional: true },
    embeddingModel: model(),
    sealed: sealed(),
  },
  memory_forgotten: {
    memoryId: id({ required: true }),
    reason: text(),
  },
  agent_state_changed: {
    status: { kind: 'enum', values: AGENT_STATUSES },
    config: { ...json(256 * 1024), optional: true },
    reason: text(),
  },
  memory_recalled: {
    queryText: text(),
    queryVector: vector('float32'),
    filters: json(64 * 1024),
    k: { kind: 'int', min: 1, max: 1000 },
    hits: {
      kind: 'objects',
      max: 1000,
      fields: {
        memoryId: id({ required: true }),
        version: { kind: 'int', min: 1, max: INT32_MAX },
        score: { kind: 'number' },
        tier: { kind: 'enum', values: MEMORY_TIERS },
      },
    },
    embeddingModel: model(),
    latencyMs: { kind: 'number', min: 0, max: 3_600_000 },
  },
  records_moved: {
    kind: { kind: 'enum', values: RECORD_KINDS },
    fromTier: { kind: 'enum', values: TIERS },
    toTier: { kind: 'enum', values: TIERS },
    dayMs: { kind: 'time', zeroMeansNever: true },
    recordIds: ids(4096),
    policy: id({ required: true }),
    reason: text(),
  },
  legal_hold_changed: {
    held: { kind: 'bool' },
    recordIds: ids(4096),
    reason: text(),
    operator: id(),
  },
  memories_consolidated: {
    canonicalMemoryId: id({ required: true }),
    mergedIds: ids(1024),
    text: text({ required: true }),
    representativeId: id(),
    method: { kind: 'id', max: 160, required: true },
    similarityThreshold: unit(),
    reason: text(),
  },
  agent_restored: {
    checkpointId: id({ required: true }),
    reason: text(),
    operator: id(),
  },
  memory_erased: {
    memoryId: id({ required: true }),
    reason: text(),
    operator: id(),
  },
  alert_changed: {
    // The alerts table keys alerts by uuid: an id that is not one would be dead-lettered by analytics, so ingest refuses it.
    alertId: id({ required: true, format: 'uuidv7' }),
    rule: id({ required: true }),
    metric: { kind: 'enum', values: ALERT_METRICS },
    state: { kind: 'enum', values: ALERT_STATES },
    severity: { kind: 'enum', values: ALERT_SEVERITIES },
    subject: id({ required: true }),
    value: { kind: 'number' },
    threshold: { kind: 'number' },
    message: text(),
    firedAt: { kind: 'time' },
  },
} as const satisfies { [T in EventType]: RulesOf<EventPayloads[T]> };

/** The whole table: envelope and payloads. */
export const FIELD_RULES = { envelope: ENVELOPE_RULES, payloads: PAYLOAD_RULES } as const;

const num = (n: number): string => (n === Number.MAX_SAFE_INTEGER ? '2^53-1' : String(n));

/** The accepted range of a numeric rule, in words (for messages and API docs). */
export function rangeOf(rule: NumberRule | IntRule | TimeRule): string {
  switch (rule.kind) {
    case 'int':
      return `an integer from ${num(rule.min)} to ${num(rule.max)}`;
    case 'time':
      return `${rule.zeroMeansNever ? '0 (never) or ' : ''}epoch milliseconds from 1 to ${MAX_TIME_MS} (year 9999), an integer`;
    case 'number': {
      const lo = rule.min === undefined ? undefined : `${rule.minExclusive ? 'greater than' : 'at least'} ${rule.min}`;
      const hi = rule.max === undefined ? undefined : `${rule.maxExclusive ? 'less than' : 'at most'} ${rule.max}`;
      if (lo && hi && !rule.minExclusive && !rule.maxExclusive) return `a finite number between ${rule.min} and ${rule.max}`;
      return ['a finite number', [lo, hi].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
    }
  }
}

/** One line describing what a rule accepts (API docs, the README). */
export function describeRule(rule: Rule, limits?: EventLimits): string {
  const lim = (m: Limit) => (typeof m === 'number' ? String(m) : limits ? `${limits[m]} (${m})` : m);
  switch (rule.kind) {
    case 'text':
      return `text, at most ${lim(rule.max)} characters${rule.required ? ', required' : ''}; tab, newline and CR allowed, no NUL or other control characters, no lone surrogates`;
    case 'id':
      return rule.format === 'uuidv7'
        ? 'a UUIDv7'
        : `identifier, ${rule.required ? '1' : '0'}..${rule.max} characters${rule.pattern ? ` matching ${rule.pattern}` : ''}, no control characters`;
    case 'enum':
      return `one of ${rule.values.join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'number':
    case 'int':
    case 'time':
      return rangeOf(rule);
    case 'schemaVersion':
      return 'the schema version this deployment reads';
    case 'vector':
      return `at most ${lim(rule.max)} finite numbers${rule.element === 'float32' ? ` (float32: |x| ≤ ${FLOAT32_MAX})` : ''}`;
    case 'list':
      return `at most ${lim(rule.max)} identifiers of 1..${rule.item.max} characters`;
    case 'bytes':
      return `bytes, ${rule.nonEmpty ? '1 to ' : 'at most '}${lim(rule.max)}`;
    case 'json':
      return `JSON object, at most ${rule.maxChars} characters as JSON and ${JSON_MAX_DEPTH} levels deep; no NUL, lone surrogates or non-finite numbers`;
    case 'objects':
      return `at most ${rule.max} objects`;
  }
}
