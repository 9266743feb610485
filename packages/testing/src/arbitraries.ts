import fc from 'fast-check';
import {
  ACTIONS,
  AGENT_STATUSES,
  encodeBatch,
  ENVELOPE_RULES,
  EVENT_TYPES,
  FLOAT32_MAX,
  HEADERS,
  INT32_MAX,
  JSON_MAX_DEPTH,
  limitOf,
  MAX_TIME_MS,
  MEMORY_KINDS,
  MEMORY_TIERS,
  PAYLOAD_RULES,
  SCHEMA_VERSION,
  SIDES,
  defaultEventLimits,
  withDefaults,
  type EventLimits,
  type EventType,
  type FarmEvent,
  type PayloadInput,
  type Rule,
} from '@farmbrain/contracts';

/**
 * fast-check arbitraries and pure helpers for property tests of the pipeline:
 * valid trading sessions of several agents (every event type), hostile values
 * and events (as if published around ingest), and the shapes of delivery
 * (messages, batches, duplicates, redeliveries) a projection must be indifferent to.
 */

// ---- run parameters ------------------------------------------------------------------------------

/**
 * fast-check parameters: in CI a fixed seed and `ciRuns` runs, so a failure
 * reproduces; locally FB_PROPERTY_RUNS=<n> runs n times with a fresh seed
 * (printed on failure), without time limit. A time limit in `extra`
 * (interruptAfterTimeLimit) keeps a CI file bounded: runs stop there, and a
 * failure found before it is still reported, shrunk as far as the time allowed.
 */
export function propertyRuns<T>(ciRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const local = Number(process.env.FB_PROPERTY_RUNS ?? '');
  // The failing assertion goes into the report (fast-check 4 otherwise keeps it only as the error's cause).
  const base: fc.Parameters<T> = { includeErrorInReport: true, ...extra };
  if (!(local > 0)) return { ...base, seed: 42, numRuns: ciRuns };
  const { interruptAfterTimeLimit: _ci, ...rest } = base;
  return { ...rest, numRuns: local };
}

// ---- strings and numbers -------------------------------------------------------------------------

/** Characters every store takes: ASCII, 2-, 3- and 4-byte UTF-8, quotes and backslashes (JSON escapes). */
const SAFE_UNITS = ['a', 'b', 'x', 'Q', 'Z', '0', '7', ' ', '-', '_', '.', ':', 'é', 'ß', '漢', '🚀', '"', '\\', "'", '%', '{'];
/** Free text of at most `maxLength` characters (tab and newline included). */
export const safeText = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...SAFE_UNITS, '\t', '\n'), minLength, maxLength });
/** Identifier-like text: no control character, minLength..maxLength characters. */
export const safeId = (maxLength: number, minLength = 1): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...SAFE_UNITS.filter((c) => c !== '🚀')), minLength, maxLength });

/** Characters no store should be handed raw: NUL, other C0 and C1 controls, DEL, lone surrogates. */
export const HOSTILE_CHARS = ['\u0000', '\u0001', '\u0008', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f', '\ud800', '\udbff', '\udc00', '\udfff'] as const;

/** A string with one hostile character (NUL most often) somewhere in otherwise ordinary text. */
export const hostileString = (maxLength = 8): fc.Arbitrary<string> =>
  fc.tuple(safeId(maxLength, 0), fc.oneof({ weight: 3, arbitrary: fc.constant('\u0000') }, { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_CHARS) }), safeId(maxLength, 0))
    .map(([a, c, b]) => a + c + b);

/**
 * `n` characters that do not compress (Postgres compresses long values before
 * indexing them, so a run of one letter would fit a btree index; this does not).
 */
export function incompressible(n: number, seed = 1): string {
  let x = seed >>> 0 || 1;
  let s = '';
  while (s.length < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += (x >>> 0).toString(36);
  }
  return s.slice(0, n);
}

/** Numbers that are not valid anywhere, or only in a few places. */
export const HOSTILE_NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e308, -1, 1.5, 2 ** 53 + 2, 2 ** 64, 9e15, -9e15, 3.5e38] as const;
export const hostileNumber: fc.Arbitrary<number> = fc.constantFrom(...HOSTILE_NUMBERS);

/** A JSON object (agent config, recall filters) every store takes. */
export const safeJson = (): fc.Arbitrary<Record<string, unknown>> =>
  fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      safeText(6),
      fc.array(tie('value'), { maxLength: 2 }),
      tie('object'),
    ),
    object: fc.dictionary(safeId(6, 0), tie('value'), { maxKeys: 3 }),
  })).object;

// ---- valid trading sessions ----------------------------------------------------------------------

export const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'é漢'] as const;

const unitDouble = fc.double({ min: 0, max: 1, noNaN: true });
const money = fc.double({ min: 0.01, max: 100_000, noNaN: true });
const qtyArb = fc.double({ min: 0.001, max: 1000, noNaN: true });
const smallVector = fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { maxLength: 4 });
/** A client embedding: a few float32 values, never all zero. */
const clientEmbedding = fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 4 }).map((v) => [1, ...v.map(Math.fround)]);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a);
const step = { dt: fc.integer({ min: 0, max: 3 }), dseq: fc.integer({ min: 1, max: 3 }), salt: fc.nat() };

/** One thing an agent does, before it is turned into an event (see `tradingSessionArb`). */
type Op =
  | { t: 'decision'; sym: number; action: number; size: number; confidence: number; rationale: string; situation: number[]; cite: number }
  | { t: 'trade'; sym: number; side: number; qty: number; price: number; fees: number; link: boolean }
  | { t: 'close'; sym: number; pnl: number; exit: number }
  | { t: 'checkpoint'; label: string; state: Uint8Array }
  | { t: 'store'; kind: number; text: string; tags: string[]; importance: number; embedding: number[] | null; scope: number; expires: number }
  | { t: 'update'; target: number; text: string | null; tags: string[]; replace: boolean; importance: number | null; embedding: number[] | null; expires: number | null }
  | { t: 'forget'; target: number; reason: string }
  | { t: 'state'; status: number; config: Record<string, unknown> | null; reason: string }
  | { t: 'register'; name: string; team: string; config: Record<string, unknown> }
  | { t: 'recall'; query: string; k: number; hits: { target: number; version: number; score: number; tier: number }[]; vector: number[]; filters: Record<string, unknown> }
  | { t: 'meddle'; victim: number; target: number; forget: boolean };
type Step = Op & { dt: number; dseq: number; salt: number };

const opArb = (meddle: boolean): fc.Arbitrary<Step> => {
  const ops: fc.WeightedArbitrary<Op>[] = [
    { weight: 8, arbitrary: fc.record({ t: fc.constant('decision' as const), sym: fc.nat(), action: fc.nat(), size: money, confidence: unitDouble, rationale: safeText(12), situation: smallVector, cite: fc.nat({ max: 3 }) }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('trade' as const), sym: fc.nat(), side: fc.nat(), qty: qtyArb, price: money, fees: fc.double({ min: 0, max: 10, noNaN: true }), link: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('close' as const), sym: fc.nat(), pnl: fc.double({ min: -1e4, max: 1e4, noNaN: true }), exit: money }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('checkpoint' as const), label: safeId(10), state: fc.uint8Array({ maxLength: 24 }) }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('store' as const), kind: fc.nat(), text: safeText(16, 1), tags: fc.array(safeId(8), { maxLength: 3 }), importance: unitDouble, embedding: opt(clientEmbedding), scope: fc.nat({ max: 5 }), expires: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 ** 9 })) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('update' as const), target: fc.nat(), text: opt(safeText(16, 1)), tags: fc.array(safeId(8), { maxLength: 2 }), replace: fc.boolean(), importance: opt(unitDouble), embedding: opt(clientEmbedding), expires: opt(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 ** 9 }))) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('forget' as const), target: fc.nat(), reason: safeText(8) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('state' as const), status: fc.nat(), config: opt(safeJson()), reason: safeText(8) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('register' as const), name: safeText(10, 1), team: fc.constantFrom('alpha', 'beta', ''), config: safeJson() }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('recall' as const), query: safeText(12), k: fc.integer({ min: 1, max: 20 }), vector: fc.oneof(fc.constant<number[]>([]), clientEmbedding), filters: safeJson(),
        hits: fc.array(fc.record({ target: fc.nat(), version: fc.integer({ min: 1, max: 5 }), score: fc.double({ min: 0, max: 1, noNaN: true }), tier: fc.nat() }), { maxLength: 3 }),
      }),
    },
  ];
  if (meddle) ops.push({ weight: 2, arbitrary: fc.record({ t: fc.constant('meddle' as const), victim: fc.nat(), target: fc.nat(), forget: fc.boolean() }) });
  return fc.tuple(fc.oneof(...ops), fc.record(step)).map(([op, s]) => ({ ...op, ...s }) as Step);
};

export interface SessionOptions {
  /** Number of agents (default 2..4). */
  agents?: { min: number; max: number };
  /** Events per agent after its registration (default 0..30). */
  events?: { min: number; max: number };
  /** Epoch ms of the first event (default 1_700_000_000_000). Events move 0..3 ms apart: equal times happen. */
  baseTime?: number;
  /** Agent ids are `<prefix>-<n>` (default 'agent'). */
  prefix?: string;
  /** Also update or forget other agents' memories (valid at ingest; the projection refuses them). */
  meddle?: boolean;
}

const hex = (n: number, w: number) => Math.floor(n).toString(16).padStart(w, '0').slice(-w);
/** A UUIDv7 from a time, an agent and a counter (unique per agent and counter), with a random tail. */
const uuid7 = (at: number, agent: number, counter: number, salt: number) => {
  const t = hex(at, 12);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(counter, 3)}-${hex(0x8000 | (agent & 0x3fff), 4)}-${hex(salt, 8)}${hex(counter >>> 12, 4)}`;
};

/**
 * A valid trading session: per agent, a registration then random decisions,
 * trades, closes, checkpoints, memory stores, updates, forgets, state changes,
 * re-registrations and recalls (of its own memories), in producer order.
 * Every event passes validation; some updates and forgets target forgotten
 * memories (and, with `meddle`, other agents' memories), which the projection
 * dead-letters. Ids are deterministic given the drawn values.
 */
export function tradingSessionArb(o: SessionOptions = {}): fc.Arbitrary<FarmEvent[][]> {
  const agents = o.agents ?? { min: 2, max: 4 };
  const perAgent = o.events ?? { min: 0, max: 30 };
  const agentArb = fc.record({
    name: safeText(10, 1),
    team: fc.constantFrom('alpha', 'beta', ''),
    config: safeJson(),
    ops: fc.array(opArb(o.meddle ?? false), { minLength: perAgent.min, maxLength: perAgent.max, size: 'max' }),
  });
  return fc.array(agentArb, { minLength: agents.min, maxLength: agents.max }).map((specs) => {
    const base = o.baseTime ?? 1_700_000_000_000;
    const prefix = o.prefix ?? 'agent';
    const memoriesOf: string[][] = [];
    return specs.map((spec, a) => {
      const agentId = `${prefix}-${a}`;
      const out: FarmEvent[] = [];
      let seq = 1000;
      let at = base + a;
      let counter = 0;
      const decisions: string[] = [];
      const recalls: string[] = [];
      const memories: string[] = [];
      memoriesOf.push(memories);
      const mk = <T extends EventType>(type: T, data: PayloadInput<T>, s: { dt: number; dseq: number; salt: number }) => {
        seq += s.dseq;
        at += s.dt;
        counter += 1;
        const e = {
          eventId: uuid7(at, a, counter, s.salt), agentId, producerSeq: seq, occurredAt: at, correlationId: counter % 5 === 0 ? `corr-${counter}` : '',
          causationId: '', schemaVersion: SCHEMA_VERSION, type, data: withDefaults(type, data),
        } as FarmEvent;
        out.push(e);
        return e;
      };
      mk('agent_registered', { name: spec.name, team: spec.team, strategy: 'property', config: spec.config }, { dt: 0, dseq: 1, salt: 0 });
      const pick = <X>(xs: readonly X[], i: number): X | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);
      for (const op of spec.ops) {
        const symbol = SYMBOLS[('sym' in op ? op.sym : 0) % SYMBOLS.length]!;
        switch (op.t) {
          case 'decision': {
            const d = mk('decision_made', {
              symbol, action: ACTIONS[op.action % ACTIONS.length]!, size: op.size, confidence: op.confidence, rationale: op.rationale,
              situation: op.situation, memoryIds: memories.slice(-op.cite), recallIds: recalls.slice(-1),
            }, op);
            decisions.push(d.eventId);
            break;
          }
          case 'trade':
            mk('trade_executed', {
              orderId: `o-${counter}`, symbol, side: SIDES[op.side % SIDES.length]!, qty: op.qty, price: op.price, fees: op.fees,
              decisionId: op.link ? (decisions[decisions.length - 1] ?? '') : '',
            }, op);
            break;
          case 'close':
            mk('position_closed', { symbol, realizedPnl: op.pnl, exitPrice: op.exit, decisionIds: decisions.slice(-2) }, op);
            break;
          case 'checkpoint':
            mk('checkpoint_saved', { label: op.label, state: op.state }, op);
            break;
          case 'store': {
            const memoryId = `m-${agentId}-${counter + 1}`;
            const scope = op.scope === 4 ? 'fleet' : op.scope === 5 ? 'team' : 'agent';
            mk('memory_stored', {
              memoryId, kind: MEMORY_KINDS[op.kind % MEMORY_KINDS.length]!, text: op.text, tags: op.tags, importance: op.importance,
              embedding: op.embedding ?? [], embeddingModel: op.embedding ? 'client-test' : '', scope, scopeId: scope === 'team' ? 'alpha' : '',
              expiresAt: op.expires === 0 ? 0 : base + op.expires, sourceEventIds: decisions.slice(-1), situation: [],
            }, op);
            memories.push(memoryId);
            break;
          }
          case 'update': {
            const memoryId = pick(memories, op.target);
            if (!memoryId) break;
            mk('memory_updated', {
              memoryId, tags: op.tags, replaceTags: op.replace, embedding: op.embedding ?? [], embeddingModel: op.embedding ? 'client-test' : '',
              ...(op.text !== null ? { text: op.text } : {}), ...(op.importance !== null ? { importance: op.importance } : {}),
              ...(op.expires !== null ? { expiresAt: op.expires === 0 ? 0 : base + op.expires } : {}),
            }, op);
            break;
          }
          case 'forget': {
            const memoryId = pick(memories, op.target);
            if (memoryId) mk('memory_forgotten', { memoryId, reason: op.reason }, op);
            break;
          }
          case 'state':
            mk('agent_state_changed', { status: AGENT_STATUSES[op.status % AGENT_STATUSES.length]!, reason: op.reason, ...(op.config ? { config: op.config } : {}) }, op);
            break;
          case 'register':
            mk('agent_registered', { name: op.name, team: op.team, strategy: 'property', config: op.config }, op);
            break;
          case 'recall': {
            const hits = op.hits.flatMap((h) => {
              const memoryId = pick(memories, h.target);
              return memoryId ? [{ memoryId, version: h.version, score: h.score, tier: MEMORY_TIERS[h.tier % MEMORY_TIERS.length]! }] : [];
            });
            const r = mk('memory_recalled', { queryText: op.query, queryVector: op.vector, filters: op.filters, k: op.k, hits, embeddingModel: op.vector.length ? 'client-test' : '' }, op);
            recalls.push(r.eventId);
            break;
          }
          case 'meddle': {
            // Another agent's memory (one folded before this agent), which it may not have stored yet in log order.
            const victims = memoriesOf.slice(0, a).filter((m) => m.length > 0);
            const memoryId = pick(pick(victims, op.victim) ?? [], op.target);
            if (!memoryId) break;
            if (op.forget) mk('memory_forgotten', { memoryId, reason: 'not mine' }, op);
            else mk('memory_updated', { memoryId, text: 'overwritten by someone else', tags: [], replaceTags: true, embedding: [], embeddingModel: '' }, op);
            break;
          }
        }
      }
      return out;
    });
  });
}

// ---- delivery: messages, batches, duplicates -----------------------------------------------------

/** Merges per-agent event lists into one log, keeping each agent's order; `picks` chooses who goes next. */
export function interleave<E>(lists: readonly (readonly E[])[], picks: readonly number[]): E[] {
  const rest = lists.map((l) => [...l]).filter((l) => l.length > 0);
  const out: E[] = [];
  for (let i = 0; rest.length > 0; i++) {
    const k = (picks.length > 0 ? picks[i % picks.length]! : i) % rest.length;
    out.push(rest[k]!.shift()!);
    if (rest[k]!.length === 0) rest.splice(k, 1);
  }
  return out;
}

/** One canonical message before it gets its stream sequence: events of one agent, or raw bytes. */
export interface MessageSpec {
  /** The agent of the subject. */
  agentId: string;
  events: FarmEvent[];
  /** Body bytes instead of `encodeBatch(events)` (undecodable input). */
  raw?: Uint8Array;
  headers?: Record<string, string>;
}

/** Groups a log into messages: consecutive events of one agent, at most `sizes[i]` (1..) each. */
export function groupIntoMessages(log: readonly FarmEvent[], sizes: readonly number[]): MessageSpec[] {
  const out: MessageSpec[] = [];
  let cur: MessageSpec | undefined;
  let limit = 1;
  for (const e of log) {
    if (!cur || cur.agentId !== e.agentId || cur.events.length >= limit) {
      limit = Math.max(1, sizes.length > 0 ? sizes[out.length % sizes.length]! : 1);
      cur = { agentId: e.agentId, events: [] };
      out.push(cur);
    }
    cur.events.push(e);
  }
  return out;
}

/** Cuts items into consecutive batches of `sizes[i]` (1..) items. */
export function cutBatches<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const n = Math.max(1, sizes.length > 0 ? sizes[out.length % sizes.length]! : items.length);
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/**
 * Where a copy of an event goes: into its own message, another message of the
 * same batch, the next batch, or a batch 2..5 later (after other batches),
 * there alone or mixed into a message of the same agent with other events.
 */
export type DuplicateKind = 'message' | 'batch' | 'adjacent' | 'later';
export interface DuplicateSpec {
  /** Which event (index into the log, modulo its length). */
  at: number;
  kind: DuplicateKind;
  /** Position within the target (modulo). */
  pos: number;
  /** For 'later': how many batches after the adjacent one (0..3). */
  gap: number;
  /** For 'later': into an existing message of the same agent when there is one. */
  mix: boolean;
}
export const duplicateSpecArb: fc.Arbitrary<DuplicateSpec> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<DuplicateKind>('message', 'batch', 'adjacent', 'later'),
  pos: fc.nat(),
  gap: fc.nat({ max: 3 }),
  mix: fc.boolean(),
});

/** A message whose composition must not change: a rejection marker (its `accepted` count is recorded) or raw bytes. */
const marked = (m: MessageSpec): boolean => Boolean(m.headers?.[HEADERS.rejected]) || m.raw !== undefined;

/**
 * The same batches with copies of events inserted, each after its original
 * (a copy is a new object with the same content). Rejection markers and raw
 * messages are left as they are; empty batches are dropped.
 */
export function withDuplicates(batches: readonly (readonly MessageSpec[])[], dups: readonly DuplicateSpec[]): MessageSpec[][] {
  const out = batches.map((b) => b.map((m) => ({ ...m, events: [...m.events] })));
  const originals = out.flatMap((b) => b.flatMap((m) => m.events));
  if (originals.length === 0) return out;
  const locate = (e: FarmEvent): [number, number, number] => {
    for (let b = 0; b < out.length; b++) {
      for (let m = 0; m < out[b]!.length; m++) {
        const i = out[b]![m]!.events.indexOf(e);
        if (i >= 0) return [b, m, i];
      }
    }
    throw new Error('original event not found');
  };
  const ensure = (b: number) => {
    while (out.length <= b) out.push([]);
    return out[b]!;
  };
  for (const d of dups) {
    const e = originals[d.at % originals.length]!;
    const copy = { ...e } as FarmEvent;
    const [b, m, i] = locate(e);
    const alone = (): MessageSpec => ({ agentId: e.agentId, events: [copy] });
    switch (d.kind) {
      case 'message': {
        const msg = out[b]![m]!;
        if (marked(msg)) out[b]!.splice(m + 1, 0, alone());
        else msg.events.splice(i + 1 + (d.pos % (msg.events.length - i)), 0, copy);
        break;
      }
      case 'batch':
        out[b]!.splice(m + 1 + (d.pos % (out[b]!.length - m)), 0, alone());
        break;
      case 'adjacent': {
        const next = ensure(b + 1);
        next.splice(d.pos % (next.length + 1), 0, alone());
        break;
      }
      case 'later': {
        const later = ensure(b + 2 + d.gap);
        const same = later.filter((x) => x.agentId === e.agentId && !marked(x));
        if (d.mix && same.length > 0) {
          const into = same[d.pos % same.length]!;
          into.events.splice(d.pos % (into.events.length + 1), 0, copy);
        } else later.splice(d.pos % (later.length + 1), 0, alone());
        break;
      }
    }
  }
  return out.filter((b) => b.length > 0);
}

/** What the projection handler reads of a JetStream message. */
export interface CanonicalMsg {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: { get(name: string): string };
}

const headersOf = (h: Record<string, string>) => ({ get: (name: string) => h[name] ?? '' });

/**
 * Canonical messages on `<namespace>.ev.<partition>.<agent>`, with consecutive
 * stream sequences from `firstSeq`; each carries `Fb-Ingress-Seq` (its own
 * `headers` may override it, or add ingest's rejection markers).
 */
export function canonicalMessages(namespace: string, partition: number, batches: readonly (readonly MessageSpec[])[], firstSeq = 1): CanonicalMsg[][] {
  let seq = firstSeq;
  return batches.map((b) => b.map((m) => {
    const s = seq++;
    return {
      seq: s,
      subject: `${namespace}.ev.${partition}.${m.agentId}`,
      data: m.raw ?? encodeBatch(m.events),
      headers: headersOf({ [HEADERS.ingressSeq]: String(s), ...m.headers }),
    };
  }));
}

// ---- events from the contract's rule table --------------------------------------------------------

/**
 * How a field's value is drawn:
 * - `edge`: valid, but at the edges of what the rule allows (longest, multi-byte,
 *   controls text may hold, extreme numbers, deepest JSON...), or ordinary;
 * - `hostile`: what the rule refuses (NUL, lone surrogates, non-finite or huge
 *   numbers, oversized ids, bad enums, malformed ids).
 */
export type FieldMode = 'edge' | 'hostile';

const nested = (levels: number): Record<string, unknown> => (levels <= 1 ? { leaf: 'é' } : { n: nested(levels - 1) });
/** Longest well-formed string of `max` UTF-16 units made of `unit` (a pair is never cut). */
const longest = (unit: string, max: number) => unit.repeat(Math.floor(max / unit.length)) + (max % unit.length ? 'a'.repeat(max % unit.length) : '');

interface EdgeContext {
  limits: EventLimits;
  now: number;
  upperCaseIds: boolean;
}

function edgeOf(rule: Rule, field: string, ctx: EdgeContext): fc.Arbitrary<unknown> {
  const { limits: L, now } = ctx;
  switch (rule.kind) {
    case 'text': {
      const max = limitOf(rule.max, L);
      return fc.oneof(
        safeText(12, rule.required ? 1 : 0),
        fc.constantFrom('\u0085\u009f\u007f', '\r\n\t', '\u2028\u2029', '\ufffe\uffff', '\u00a0\u200b\u0301', longest('漢', max), longest('🚀', max), longest('a', max)),
      );
    }
    case 'id': {
      if (rule.format === 'uuidv7') {
        return ctx.upperCaseIds ? fc.oneof({ weight: 5, arbitrary: fc.uuid({ version: 7 }) }, { weight: 1, arbitrary: fc.uuid({ version: 7 }).map((u) => u.toUpperCase()) }) : fc.uuid({ version: 7 });
      }
      if (rule.pattern) return fc.stringMatching(rule.pattern);
      const some = fc.oneof(safeId(Math.min(rule.max, 12)), fc.constantFrom('\ufffe', '\u00a0', '\u200b', '🚀', longest('漢', rule.max), longest('🚀', rule.max), incompressible(rule.max)));
      return rule.required ? some : fc.oneof(fc.constant(''), some);
    }
    case 'enum':
      return fc.constantFrom(...rule.values);
    case 'bool':
      return fc.boolean();
    case 'number': {
      const lo = rule.min ?? -Number.MAX_VALUE;
      const hi = rule.max ?? Number.MAX_VALUE;
      const edges = [lo, hi, (lo + hi) / 2, Number.MIN_VALUE, 1e-300, -0].filter((x) =>
        Number.isFinite(x) && (rule.minExclusive ? x > lo : x >= lo) && (rule.maxExclusive ? x < hi : x <= hi));
      return fc.oneof(fc.double({ min: rule.min, max: rule.max, minExcluded: rule.minExclusive, maxExcluded: rule.maxExclusive, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(...edges));
    }
    case 'int':
      return fc.oneof(fc.integer({ min: Math.max(rule.min, -(2 ** 31)), max: Math.min(rule.max, 2 ** 31 - 1) }), fc.constantFrom(rule.min, rule.max));
    case 'time':
      if (field === 'occurredAt') return fc.integer({ min: -L.maxPastSkewMs, max: L.maxFutureSkewMs }).map((d) => now + d);
      return fc.oneof(...(rule.zeroMeansNever ? [fc.constant(0)] : []), fc.constantFrom(1, MAX_TIME_MS), fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((d) => now + d));
    case 'schemaVersion':
      return fc.constant(SCHEMA_VERSION);
    case 'vector': {
      const max = limitOf(rule.max, L);
      const x = rule.element === 'float32'
        ? fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }).map(Math.fround), fc.constantFrom(FLOAT32_MAX, -FLOAT32_MAX, 1e-45, -0))
        : fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE));
      return fc.oneof({ weight: 6, arbitrary: fc.array(x, { maxLength: 5 }) }, { weight: 1, arbitrary: fc.constant(Array.from({ length: max }, (_, i) => (i % 7) - 3)) });
    }
    case 'list': {
      const max = limitOf(rule.max, L);
      return fc.oneof(
        { weight: 6, arbitrary: fc.array(edgeOf(rule.item, field, ctx) as fc.Arbitrary<string>, { maxLength: 3 }).map((xs) => xs.filter((s) => s !== '')) },
        { weight: 1, arbitrary: fc.constant(Array.from({ length: max }, (_, i) => `${i}-${longest('漢', rule.item.max - 8)}`.slice(0, rule.item.max))) },
      );
    }
    case 'bytes':
      return fc.oneof({ weight: 6, arbitrary: fc.uint8Array({ maxLength: 32 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(Math.min(limitOf(rule.max, L), 64 * 1024))) });
    case 'json':
      return fc.oneof(
        { weight: 4, arbitrary: safeJson() },
        {
          weight: 2,
          arbitrary: fc.constantFrom<Record<string, unknown>>(
            nested(JSON_MAX_DEPTH - 1), { '': 1 }, JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>, { big: 1e308, tiny: 5e-324, neg: -0 },
            { 'ctl\u0001': '\u0001\u007f\u0085', line: '\u2028', emoji: '🚀', bs: '\\u0000' }, { a: [null, true, [[]], {}] },
          ),
        },
      );
    case 'objects':
      return fc.array(fc.record(Object.fromEntries(Object.entries(rule.fields as Record<string, Rule>).map(([k, r]) => [k, edgeOf(r, k, ctx)]))), { maxLength: 3 });
  }
}

function hostileOf(rule: Rule, L: EventLimits): fc.Arbitrary<unknown> {
  switch (rule.kind) {
    case 'text':
    case 'id': {
      const big = fc.constant(incompressible(10_000));
      if (rule.kind === 'id' && rule.format === 'uuidv7') {
        return fc.oneof(hostileString(4), big, fc.constantFrom('not-a-uuid', '', '{01890a5d-ac96-774b-bcce-b302099a8057}', '01890a5d-ac96-474b-bcce-b302099a8057'));
      }
      return fc.oneof({ weight: 4, arbitrary: hostileString(6) }, { weight: 1, arbitrary: big });
    }
    case 'enum':
      return fc.constantFrom('', 'bogus');
    case 'bool':
      return fc.constant(true);
    case 'number':
    case 'int':
    case 'time':
    case 'schemaVersion':
      return hostileNumber;
    case 'vector':
      return fc.oneof(fc.array(fc.oneof(fc.double({ min: -1, max: 1, noNaN: true }), hostileNumber), { minLength: 1, maxLength: 4 }), fc.constant(Array.from({ length: limitOf(rule.max, L) + 1 }, () => 0.5)));
    case 'list':
      return fc.oneof(
        fc.tuple(fc.array(safeId(6), { maxLength: 2 }), fc.oneof(hostileString(4), fc.constant(incompressible(10_000)), fc.constant(''))).map(([xs, bad]) => [...xs, bad]),
        fc.constant(Array.from({ length: limitOf(rule.max, L) + 1 }, (_, i) => `x${i}`)),
      );
    case 'bytes':
      return fc.constant(new Uint8Array(limitOf(rule.max, L) + 1));
    case 'json':
      return fc.constantFrom<Record<string, unknown>>(
        { 'k\u0000': 1 }, { v: 'a\u0000b' }, { v: '\ud800' }, { '\udc00': 1 }, { n: Number.NaN }, { n: Number.POSITIVE_INFINITY }, nested(JSON_MAX_DEPTH + 8),
      );
    case 'objects':
      return fc.record({ memoryId: fc.oneof(hostileString(4), fc.constant(incompressible(10_000))), version: fc.constantFrom(-1, 0, 2 ** 40, INT32_MAX + 1), score: hostileNumber, tier: fc.constantFrom('', 'cold') })
        .map((h) => [h]);
  }
}

export interface RuleEventOptions {
  agentId: string;
  /** Reference clock (occurredAt is drawn within the deployment's skew of it). */
  now: number;
  limits?: EventLimits;
  types?: readonly EventType[];
  /** 'edge': every field valid or at its edges; 'hostile': the same with exactly one field refused by its rule. */
  mode: FieldMode;
  /** Memory ids to draw from (so stores collide and updates find their memory); default: a fresh `h-<uuid>` each. */
  memoryIds?: readonly string[];
  /** Event ids in upper case sometimes (valid UUIDv7s; default true). */
  upperCaseIds?: boolean;
}

/**
 * Events drawn from the contract's rule table (FIELD_RULES), so the generator
 * follows the contract when it changes. Memory ids are `h-…` unless given
 * (never those of a trading session).
 */
export function ruleEventArb(o: RuleEventOptions): fc.Arbitrary<FarmEvent> {
  const L = o.limits ?? defaultEventLimits();
  const ctx: EdgeContext = { limits: L, now: o.now, upperCaseIds: o.upperCaseIds ?? true };
  const memoryId = o.memoryIds?.length ? fc.constantFrom(...o.memoryIds) : fc.uuid({ version: 4 }).map((u) => `h-${u}`);
  const envelope = ENVELOPE_RULES as Record<string, Rule>;
  const byType = (type: EventType) => {
    const payload = PAYLOAD_RULES[type] as Record<string, Rule>;
    const record = (rules: Record<string, Rule>, fixed: Record<string, fc.Arbitrary<unknown>>) =>
      fc.record(Object.fromEntries(Object.entries(rules).map(([k, r]) => [k, fixed[k] ?? edgeOf(r, k, ctx)])), {
        requiredKeys: Object.keys(rules).filter((k) => !rules[k]!.optional),
      });
    const base = fc.record({
      env: record(envelope, { agentId: fc.constant(o.agentId), producerSeq: fc.integer({ min: 1, max: 2 ** 31 }) }),
      data: record(payload, 'memoryId' in payload ? { memoryId } : {}),
    });
    const fields = [...Object.keys(envelope).filter((k) => k !== 'agentId').map((k) => ({ k, inData: false })), ...Object.keys(payload).map((k) => ({ k, inData: true }))];
    const event = (env: Record<string, unknown>, data: Record<string, unknown>) => ({ ...env, type, data }) as unknown as FarmEvent;
    if (o.mode === 'edge') return base.map(({ env, data }) => event(env, data));
    return fc.tuple(base, fc.constantFrom(...fields)).chain(([{ env, data }, f]) =>
      hostileOf((f.inData ? payload : envelope)[f.k]!, L).map((bad) => (f.inData ? event(env, { ...data, [f.k]: bad }) : event({ ...env, [f.k]: bad }, data))));
  };
  return fc.oneof(...(o.types ?? EVENT_TYPES).map(byType));
}
