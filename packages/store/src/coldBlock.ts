/**
 * Cold blocks: the warm rows of one agent, kind and UTC day, as one compressed
 * value. Lossless (decoding gives back the rows `SELECT *` returned, so the row
 * mappers of rows.ts serve them unchanged) and deterministic (the same rows give
 * the same bytes, in any order they come in: a rebuild of the log makes the same
 * blocks, byte for byte).
 *
 * Layout (before brotli): columnar. The block says which columns it holds, by
 * name and type, so a block stays readable after a table gains a column. Each
 * column is one or more streams of like values, each stream length-prefixed:
 *
 * - uuid: the 48-bit time prefix of each id, delta-coded (UUIDv7 ids of one
 *   agent's day are close in time), then the 10 other bytes, raw;
 * - time: epoch ms, delta-coded (rows are sorted by time, then id);
 * - int: delta-coded zigzag varints (stream and producer sequences climb);
 * - float: a value with a short decimal form (a price, a rounded confidence) is
 *   its scale (digits after the point) and an integer mantissa; anything else,
 *   its 8 IEEE bytes: `mantissa / 10 ** scale` gives back the very same double;
 * - text: a dictionary when values repeat (symbols, actions, labels), ids when all
 *   are lower-case uuids, else lengths and UTF-8 bytes;
 * - arrays (float8[], real[], text[]): a count per row, then the items as above;
 * - bytes (bytea): lengths, then the bytes; json (jsonb): its JSON text.
 *
 * Brotli then sees long runs of alike bytes; on the demo fleet's decisions that
 * is far smaller than row-wise JSON compressed the same way.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib';

/** The kinds of record a block holds (memories are mutable and stay warm). */
export const BLOCK_KINDS = ['decision', 'trade', 'checkpoint', 'recall'] as const;
export type BlockKind = (typeof BLOCK_KINDS)[number];

/** `cold_blocks.codec` of the blocks this module writes. */
export const BLOCK_CODEC = 'fbcol1+br';

/** Where each kind lives while warm: its table and the key column (the record's event id). */
export const WARM_TABLE: Record<BlockKind, { table: string; id: string }> = {
  decision: { table: 'decisions', id: 'event_id' },
  trade: { table: 'trades', id: 'event_id' },
  checkpoint: { table: 'checkpoints', id: 'event_id' },
  recall: { table: 'recalls', id: 'recall_id' },
};

type ColType = 'uuid' | 'text' | 'int' | 'float' | 'time' | 'floats' | 'texts' | 'bytes' | 'json';
const TYPE_CODE: Record<ColType, number> = { uuid: 1, text: 2, int: 3, float: 4, time: 5, floats: 6, texts: 7, bytes: 8, json: 9 };
const TYPE_OF_CODE = Object.fromEntries(Object.entries(TYPE_CODE).map(([t, c]) => [c, t as ColType])) as Record<number, ColType | undefined>;

/** The columns of each warm table (as `SELECT *` returns them) and how each is coded. */
export const BLOCK_COLUMNS: Record<BlockKind, readonly (readonly [string, ColType])[]> = {
  decision: [
    ['event_id', 'uuid'], ['agent_id', 'text'], ['producer_seq', 'int'], ['occurred_at', 'time'], ['symbol', 'text'], ['action', 'text'],
    ['size', 'float'], ['confidence', 'float'], ['rationale', 'text'], ['situation', 'floats'], ['memory_ids', 'texts'],
    ['correlation_id', 'text'], ['stream_seq', 'int'], ['recall_ids', 'texts'],
  ],
  trade: [
    ['event_id', 'uuid'], ['agent_id', 'text'], ['producer_seq', 'int'], ['occurred_at', 'time'], ['order_id', 'text'], ['symbol', 'text'],
    ['side', 'text'], ['qty', 'float'], ['price', 'float'], ['fees', 'float'], ['decision_id', 'text'], ['stream_seq', 'int'],
  ],
  checkpoint: [
    ['event_id', 'uuid'], ['agent_id', 'text'], ['producer_seq', 'int'], ['occurred_at', 'time'], ['label', 'text'], ['state', 'bytes'],
    ['size_bytes', 'int'], ['stream_seq', 'int'],
  ],
  recall: [
    ['recall_id', 'uuid'], ['agent_id', 'text'], ['occurred_at', 'time'], ['query_text', 'text'], ['query_vector', 'floats'],
    ['embedding_model', 'text'], ['filters', 'json'], ['k', 'int'], ['hits', 'json'], ['correlation_id', 'text'], ['stream_seq', 'int'],
  ],
};

/**
 * Brotli settings. On the demo fleet's decisions (bytes a decision, ms for 4,300):
 * q5 35.8 / 22 ms, q8 35.1 / 78, q9 33.9 / 210, q10 32.0 / 440, q11 30.3 / 2100.
 * Blocks are made inside tiering's batch transaction, so q9 (a 4 MiB window:
 * larger gained nothing). Part of the codec: a rebuild must use the same
 * settings to make the same bytes.
 */
export const BLOCK_BROTLI = { quality: 9, lgwin: 22 } as const;

export type BlockRow = Record<string, unknown>;

/** A block as cold_blocks stores it, and the facts about it the row keeps. */
export interface EncodedBlock {
  payload: Buffer;
  sha256: string;
  /** Bytes of the columnar encoding before compression. */
  rawBytes: number;
  /** Ids of the records, in block order (time, then id). */
  ids: string[];
  /** Their `stream_seq`, in the same order. */
  streamSeqs: number[];
  /** The earliest and latest `occurred_at`. */
  firstAt: Date;
  lastAt: Date;
}

const MAGIC = [0x46, 0x42, 0x43, 0x31]; // "FBC1"
const KIND_CODE: Record<BlockKind, number> = { decision: 1, trade: 2, checkpoint: 3, recall: 4 };
const KIND_OF_CODE = Object.fromEntries(Object.entries(KIND_CODE).map(([k, c]) => [c, k as BlockKind])) as Record<number, BlockKind | undefined>;

/** A block that cannot be decoded: not one this codec wrote, or corrupted (its sha256 says which). */
export class BlockCodecError extends Error {
  readonly code = 'BLOCK_CORRUPT';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BlockCodecError';
  }
}

/**
 * Rows of a block are grouped by this column first (symbol, label): alike rows
 * side by side (a symbol's prices, situations and rationales follow each other)
 * compress better than the interleaving of time order.
 */
const GROUP_BY: Record<BlockKind, string | undefined> = { decision: 'symbol', trade: 'symbol', checkpoint: 'label', recall: undefined };

/** Block order: the group column, then time, then id (code-unit order: the byte order of lower-case uuid text). */
export function compareRows(kind: BlockKind, a: BlockRow, b: BlockRow): number {
  const id = WARM_TABLE[kind].id;
  const g = GROUP_BY[kind];
  if (g !== undefined) {
    const ga = a[g] as string;
    const gb = b[g] as string;
    if (ga !== gb) return ga < gb ? -1 : 1;
  }
  const ta = (a.occurred_at as Date).getTime();
  const tb = (b.occurred_at as Date).getTime();
  if (ta !== tb) return ta - tb;
  const ia = a[id] as string;
  const ib = b[id] as string;
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/**
 * Encodes warm rows of one kind (as `SELECT *` or `DELETE ... RETURNING *`
 * gives them) into a block. Rows are put in block order first, so the bytes do
 * not depend on the order they came in. A row with a column the codec does not
 * know is refused (a migration that adds a column must add it here, or its
 * values would be lost).
 */
export function encodeBlock(kind: BlockKind, rows: readonly BlockRow[]): EncodedBlock {
  if (rows.length === 0) throw new RangeError('a block holds at least one record');
  const cols = BLOCK_COLUMNS[kind];
  const known = new Set(cols.map(([n]) => n));
  for (const k of Object.keys(rows[0]!)) {
    if (!known.has(k)) throw new TypeError(`${WARM_TABLE[kind].table}.${k} is not a column the cold block codec knows; add it to BLOCK_COLUMNS.${kind}`);
  }
  const sorted = [...rows].sort((a, b) => compareRows(kind, a, b));
  const w = new Writer();
  w.bytes(MAGIC);
  w.byte(KIND_CODE[kind]);
  w.uvarint(sorted.length);
  w.uvarint(cols.length);
  for (const [name, type] of cols) {
    w.str(name);
    w.byte(TYPE_CODE[type]);
    const streams = encodeColumn(type, sorted.map((r) => {
      const v = r[name];
      if (v === undefined || v === null) throw new TypeError(`${WARM_TABLE[kind].table}.${name} is missing or null in a row; the codec holds NOT NULL columns only`);
      return v;
    }), `${kind}.${name}`);
    w.uvarint(streams.length);
    for (const s of streams) {
      w.uvarint(s.length);
      w.bytes(s);
    }
  }
  const raw = w.done();
  const payload = brotliCompressSync(raw, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: BLOCK_BROTLI.quality,
      [zlib.BROTLI_PARAM_LGWIN]: BLOCK_BROTLI.lgwin,
      [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const id = WARM_TABLE[kind].id;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of sorted) {
    const t = (r.occurred_at as Date).getTime();
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  return {
    payload,
    sha256: sha256Hex(payload),
    rawBytes: raw.length,
    ids: sorted.map((r) => r[id] as string),
    streamSeqs: sorted.map((r) => r.stream_seq as number),
    firstAt: new Date(lo),
    lastAt: new Date(hi),
  };
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The rows of a block, in block order, each as `SELECT *` on the warm table returns it. */
export function decodeBlock(payload: Uint8Array): { kind: BlockKind; rows: BlockRow[] } {
  let raw: Buffer;
  try {
    raw = brotliDecompressSync(payload);
  } catch (err) {
    throw new BlockCodecError('the block does not decompress (brotli)', { cause: err });
  }
  try {
    const r = new Reader(raw);
    for (const m of MAGIC) if (r.byte() !== m) throw new BlockCodecError('not a cold block (bad magic)');
    const kind = KIND_OF_CODE[r.byte()];
    if (!kind) throw new BlockCodecError('unknown block kind');
    const n = r.uvarint();
    const ncols = r.uvarint();
    // Every row takes bytes in the id column: a count beyond the block's size is corruption, not a huge block.
    if (n > raw.length || ncols > 256) throw new BlockCodecError('the block is malformed: impossible row or column count');
    const rows: BlockRow[] = Array.from({ length: n }, () => ({}));
    for (let c = 0; c < ncols; c++) {
      const name = r.str();
      const type = TYPE_OF_CODE[r.byte()];
      if (!type) throw new BlockCodecError(`column ${name}: unknown type`);
      const ns = r.uvarint();
      const streams: Reader[] = [];
      for (let s = 0; s < ns; s++) streams.push(new Reader(r.take(r.uvarint())));
      const values = decodeColumn(type, n, streams, raw.length);
      for (let i = 0; i < n; i++) rows[i]![name] = values[i];
    }
    return { kind, rows };
  } catch (err) {
    if (err instanceof BlockCodecError) throw err;
    throw new BlockCodecError(`the block is malformed: ${(err as Error).message}`, { cause: err });
  }
}

// ---- columns ----

function encodeColumn(type: ColType, values: unknown[], what: string): Uint8Array[] {
  switch (type) {
    case 'uuid': return encodeUuids(values as string[], what);
    case 'time': return [encodeInts(values.map((d) => timeOf(d, what)), true)];
    case 'int': return encodeIntsOrFloats(values as number[], what);
    case 'float': return encodeFloats(values as number[], what);
    case 'text': return encodeTexts(values as string[], what);
    case 'json': return encodeTexts(values.map((v) => JSON.stringify(v)), what);
    case 'bytes': {
      const bufs = values.map((v) => {
        if (!(v instanceof Uint8Array)) throw new TypeError(`${what}: expected bytes`);
        return v;
      });
      const lens = new Writer();
      for (const b of bufs) lens.uvarint(b.length);
      return [lens.done(), Buffer.concat(bufs)];
    }
    case 'floats':
    case 'texts': {
      const arrays = values.map((v) => {
        if (!Array.isArray(v)) throw new TypeError(`${what}: expected an array`);
        return v as unknown[];
      });
      const counts = new Writer();
      for (const a of arrays) counts.uvarint(a.length);
      // Vectors (a situation's features) go one position at a time: the j-th items of the rows that have one, like values together.
      const parts = type === 'floats' ? byPosition(arrays) : [arrays.flat()];
      return [counts.done(), ...parts.map((p) => pack(type === 'floats' ? encodeFloats(p as number[], what) : encodeTexts(p as string[], what)))];
    }
  }
}

/** The j-th items of the arrays that have one, for each j below the longest length. */
function byPosition<T>(arrays: readonly (readonly T[])[]): T[][] {
  const longest = arrays.reduce((m, a) => Math.max(m, a.length), 0);
  const out: T[][] = Array.from({ length: longest }, () => []);
  for (const a of arrays) a.forEach((v, j) => out[j]!.push(v));
  return out;
}

/** Several streams as one: their count, then each length-prefixed. */
function pack(streams: readonly Uint8Array[]): Uint8Array {
  const w = new Writer();
  w.uvarint(streams.length);
  for (const s of streams) {
    w.uvarint(s.length);
    w.bytes(s);
  }
  return w.done();
}

function unpack(r: Reader): Reader[] {
  const n = r.uvarint();
  return Array.from({ length: n }, () => new Reader(r.take(r.uvarint())));
}

function decodeColumn(type: ColType, n: number, s: Reader[], budget: number): unknown[] {
  const at = (i: number) => {
    const r = s[i];
    if (!r) throw new BlockCodecError('a column lacks a stream');
    return r;
  };
  switch (type) {
    case 'uuid': return decodeUuids(n, at(0), at(1));
    case 'time': return decodeInts(n, at(0), true).map((ms) => new Date(ms));
    case 'int': return decodeIntsOrFloats(n, s);
    case 'float': return decodeFloats(n, s);
    case 'text': return decodeTexts(n, s);
    case 'json': return decodeTexts(n, s).map((t) => JSON.parse(t) as unknown);
    case 'bytes': {
      const lens = at(0);
      const data = at(1);
      return Array.from({ length: n }, () => Buffer.from(data.take(lens.uvarint())));
    }
    case 'floats':
    case 'texts': {
      const counts = Array.from({ length: n }, () => at(0).uvarint());
      const total = counts.reduce((a, b) => a + b, 0);
      // Every item takes at least a byte of the block: more is corruption.
      if (total > budget) throw new BlockCodecError('impossible item count');
      if (type === 'floats') {
        const longest = counts.reduce((m, c) => Math.max(m, c), 0);
        const dims = Array.from({ length: longest }, (_, j) => decodeFloats(counts.filter((c) => c > j).length, unpack(at(1 + j))));
        const next = dims.map(() => 0);
        return counts.map((c) => Array.from({ length: c }, (_, j) => dims[j]![next[j]!++]!));
      }
      const flat = decodeTexts(total, unpack(at(1)));
      const out: unknown[] = [];
      let k = 0;
      for (const c of counts) {
        out.push(flat.slice(k, k + c));
        k += c;
      }
      return out;
    }
  }
}

function timeOf(d: unknown, what: string): number {
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) throw new TypeError(`${what}: expected a finite time`);
  return d.getTime();
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const uuidBytes = (u: string): Buffer => Buffer.from(u.replace(/-/g, ''), 'hex');
const uuidText = (b: Uint8Array): string => {
  const x = Buffer.from(b).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

/** Ids: the 48-bit prefix (a UUIDv7's ms time) delta-coded, then the other 10 bytes. */
function encodeUuids(ids: string[], what: string): Uint8Array[] {
  const prefixes: number[] = [];
  const rest = Buffer.alloc(ids.length * 10);
  ids.forEach((u, i) => {
    if (typeof u !== 'string' || !UUID_TEXT.test(u)) throw new TypeError(`${what}: '${String(u)}' is not a lower-case uuid`);
    const b = uuidBytes(u);
    prefixes.push(b.readUIntBE(0, 6));
    b.copy(rest, i * 10, 6, 16);
  });
  return [encodeInts(prefixes, true), rest];
}

function decodeUuids(n: number, prefixes: Reader, rest: Reader): string[] {
  const ps = decodeInts(n, prefixes, true);
  return ps.map((p) => {
    const b = Buffer.alloc(16);
    b.writeUIntBE(p, 0, 6);
    Buffer.from(rest.take(10)).copy(b, 6);
    return uuidText(b);
  });
}

/** Safe integers as zigzag varints, each as the difference from the previous one when `delta`. */
function encodeInts(vs: readonly number[], delta: boolean): Uint8Array {
  const w = new Writer();
  let prev = 0;
  for (const v of vs) {
    w.zigzag(delta ? v - prev : v);
    prev = v;
  }
  return w.done();
}

function decodeInts(n: number, r: Reader, delta: boolean): number[] {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = r.zigzag() + (delta ? prev : 0);
    out.push(v);
    prev = v;
  }
  return out;
}

/** An integer column: delta-coded when every value (and every difference) is a safe integer, else as floats. */
function encodeIntsOrFloats(vs: number[], what: string): Uint8Array[] {
  for (const v of vs) if (typeof v !== 'number') throw new TypeError(`${what}: expected a number`);
  const safe = vs.every((v, i) => Number.isSafeInteger(v) && !Object.is(v, -0) && (i === 0 || Number.isSafeInteger(v - vs[i - 1]!)));
  return safe ? [Uint8Array.of(0), encodeInts(vs, true)] : [Uint8Array.of(1), ...encodeFloats(vs, what)];
}

function decodeIntsOrFloats(n: number, s: Reader[]): number[] {
  const mode = s[0]?.byte();
  if (mode === 0) return decodeInts(n, s[1]!, true);
  if (mode === 1) return decodeFloats(n, s.slice(1));
  throw new BlockCodecError('unknown integer column mode');
}

const RAW_FLOAT = 255;
const MAX_SCALE = 15;
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, i) => 10 ** i);

/**
 * The fewest digits after the point that give back `v` exactly as
 * `mantissa / 10 ** scale` (the decoder's own computation), or none.
 */
function decimalOf(v: number): { scale: number; mantissa: number } | undefined {
  if (!Number.isFinite(v) || Object.is(v, -0)) return undefined;
  for (let d = 0; d <= MAX_SCALE; d++) {
    const m = Math.round(v * POW10[d]!);
    if (!Number.isSafeInteger(m)) return undefined;
    if (m / POW10[d]! === v) return { scale: d, mantissa: m };
  }
  return undefined;
}

const FLOAT_SCALED = 0;
const FLOAT_MIXED = 1;

/**
 * Floats. When every value has a short decimal form, one common scale S and
 * the integers `v * 10 ** S`, delta-coded: `M / 10 ** S` is the correctly
 * rounded quotient of the same rational as `m / 10 ** d`, so the same double.
 * Otherwise each value on its own: scales (one byte each), mantissas (zigzag
 * varints), and the values with no short decimal form (8 bytes each).
 */
function encodeFloats(vs: number[], what: string): Uint8Array[] {
  const decs = vs.map((v) => {
    if (typeof v !== 'number') throw new TypeError(`${what}: expected a number`);
    return decimalOf(v);
  });
  if (decs.every((d) => d !== undefined)) {
    const scale = decs.reduce((s, d) => Math.max(s, d!.scale), 0);
    const ints = decs.map((d) => d!.mantissa * POW10[scale - d!.scale]!);
    if (ints.every((m, i) => Number.isSafeInteger(m) && (i === 0 || Number.isSafeInteger(m - ints[i - 1]!)))) {
      return [Uint8Array.of(FLOAT_SCALED, scale), encodeInts(ints, true)];
    }
  }
  const scales = new Uint8Array(vs.length);
  const mantissas = new Writer();
  const raws: number[] = [];
  vs.forEach((v, i) => {
    const d = decs[i];
    if (d) {
      scales[i] = d.scale;
      mantissas.zigzag(d.mantissa);
    } else {
      scales[i] = RAW_FLOAT;
      raws.push(v);
    }
  });
  const raw = Buffer.alloc(raws.length * 8);
  raws.forEach((v, i) => raw.writeDoubleLE(v, i * 8));
  return [Uint8Array.of(FLOAT_MIXED), scales, mantissas.done(), raw];
}

function decodeFloats(n: number, s: Reader[]): number[] {
  const head = s[0]!;
  const mode = n === 0 ? FLOAT_MIXED : head.byte();
  if (mode === FLOAT_SCALED) {
    const scale = head.byte();
    if (scale > MAX_SCALE) throw new BlockCodecError('bad float scale');
    return decodeInts(n, s[1]!, true).map((m) => m / POW10[scale]!);
  }
  if (mode !== FLOAT_MIXED) throw new BlockCodecError('unknown float column mode');
  const [scales, mantissas, raw] = [s[1]!, s[2]!, s[3]!];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = scales.byte();
    if (d === RAW_FLOAT) out.push(Buffer.from(raw.take(8)).readDoubleLE(0));
    else if (d <= MAX_SCALE) out.push(mantissas.zigzag() / POW10[d]!);
    else throw new BlockCodecError('bad float scale');
  }
  return out;
}

const TEXT_RAW = 0;
const TEXT_DICT = 1;
const TEXT_UUID = 2;

/** Text: a dictionary when values repeat, as ids (see encodeUuids) when all are lower-case uuids, else lengths and UTF-8. */
function encodeTexts(vs: string[], what: string): Uint8Array[] {
  for (const v of vs) if (typeof v !== 'string') throw new TypeError(`${what}: expected text`);
  const dict = new Map<string, number>();
  for (const v of vs) if (!dict.has(v)) dict.set(v, dict.size);
  if (vs.length > 0 && dict.size * 2 <= vs.length) {
    const idx = new Writer();
    for (const v of vs) idx.uvarint(dict.get(v)!);
    // The distinct values, coded as a column of their own (uuids as ids, else text; distinct, so never a dictionary again).
    const words = [...dict.keys()];
    const wordsCoded = words.every((v) => UUID_TEXT.test(v)) ? [Uint8Array.of(TEXT_UUID), ...encodeUuids(words, what)] : encodeRawTexts(words);
    return [Uint8Array.of(TEXT_DICT), varintOf(words.length), idx.done(), ...wordsCoded];
  }
  if (vs.length > 0 && vs.every((v) => UUID_TEXT.test(v))) {
    return [Uint8Array.of(TEXT_UUID), ...encodeUuids(vs, what)];
  }
  return encodeRawTexts(vs);
}

function encodeRawTexts(vs: readonly string[]): Uint8Array[] {
  const lens = new Writer();
  const utf8 = vs.map((v) => Buffer.from(v, 'utf8'));
  for (const b of utf8) lens.uvarint(b.length);
  return [Uint8Array.of(TEXT_RAW), lens.done(), Buffer.concat(utf8)];
}

function varintOf(v: number): Uint8Array {
  const w = new Writer();
  w.uvarint(v);
  return w.done();
}

function decodeTexts(n: number, s: Reader[]): string[] {
  if (n === 0) return [];
  const mode = s[0]?.byte();
  if (mode === TEXT_DICT) {
    const k = s[1]!.uvarint();
    if (k > n) throw new BlockCodecError('more distinct texts than texts');
    const dict = decodeTexts(k, s.slice(3));
    return Array.from({ length: n }, () => {
      const v = dict[s[2]!.uvarint()];
      if (v === undefined) throw new BlockCodecError('text index out of range');
      return v;
    });
  }
  if (mode === TEXT_UUID) return decodeUuids(n, s[1]!, s[2]!);
  if (mode === TEXT_RAW) return Array.from({ length: n }, () => Buffer.from(s[2]!.take(s[1]!.uvarint())).toString('utf8'));
  throw new BlockCodecError('unknown text column mode');
}

// ---- bytes ----

class Writer {
  #buf = Buffer.alloc(1024);
  #n = 0;

  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#n + k));
    this.#buf.copy(next, 0, 0, this.#n);
    this.#buf = next;
  }

  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#n++] = b;
  }

  bytes(b: ArrayLike<number>): void {
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
  }

  /** An unsigned integer up to 2^53, 7 bits a byte (arithmetic, not 32-bit bit operations). */
  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a varint: ${v}`);
    this.#room(8);
    while (v >= 0x80) {
      this.#buf[this.#n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#n++] = v;
  }

  /** A signed safe integer, zigzag-coded (small magnitudes in few bytes). */
  zigzag(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not a safe integer: ${v}`);
    // |v| < 2^53, so 2|v| < 2^54: past the safe range for odd values; split the sign out instead.
    if (Math.abs(v) > 2 ** 51) {
      this.uvarint(v >= 0 ? 2 ** 52 * 2 - 2 : 2 ** 52 * 2 - 1); // escape
      this.byte(v >= 0 ? 0 : 1);
      this.uvarint(Math.abs(v));
      return;
    }
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    this.bytes(b);
  }

  done(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#n));
  }
}

class Reader {
  #i = 0;
  constructor(private readonly b: Uint8Array) {}

  byte(): number {
    if (this.#i >= this.b.length) throw new BlockCodecError('unexpected end of block');
    return this.b[this.#i++]!;
  }

  take(k: number): Uint8Array {
    if (this.#i + k > this.b.length) throw new BlockCodecError('unexpected end of block');
    const out = this.b.subarray(this.#i, this.#i + k);
    this.#i += k;
    return out;
  }

  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new BlockCodecError('varint too long');
    }
  }

  zigzag(): number {
    const z = this.uvarint();
    if (z >= 2 ** 53 - 2) {
      const neg = this.byte() === 1;
      const m = this.uvarint();
      return neg ? -m : m;
    }
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  str(): string {
    return Buffer.from(this.take(this.uvarint())).toString('utf8');
  }
}
