import { ConfigError } from '../errors.js';
import { normalizeInPlace, type Embedder } from './embedder.js';

/**
 * The built-in offline embedder, 'farmbrain/hash-v1-<dims>': feature hashing of
 *
 * - lowercase word unigrams (weight 1): runs of letters/digits/marks, so tickers
 *   ('btc') and numbers ('65000.5', '42,000' -> '42000') are words;
 * - word bigrams (weight 0.5) of neighbouring kept words within a sentence;
 * - character trigrams of each non-numeric word with boundary markers, '^br' ..
 *   'ut$' (weight 0.3), so 'breakout'/'breakouts' and 'volatile'/'volatility' land close;
 *
 * minus a small stopword list. Each distinct feature adds sign * weight * (1 + ln tf)
 * to bucket hash % dims (sublinear term frequency; the sign comes from a second hash
 * so collisions cancel rather than pile up), then the vector is L2-normalised.
 *
 * Hashes are FNV-1a over the UTF-8 bytes of each feature followed by murmur3's
 * finaliser, computed straight from the string's code points: no per-token strings,
 * arrays or TextEncoder. Deterministic across processes, platforms and versions of
 * Node; anything that changes the output must bump the 'v1' in the model id, since
 * vectors of different versions are not comparable.
 */
export function hashEmbedder(dims = 256): Embedder {
  if (!Number.isInteger(dims) || dims < 1 || dims > 65536) {
    throw new ConfigError(`hash embedder dims=${dims} must be an integer from 1 to 65536`);
  }
  return {
    model: `farmbrain/hash-v1-${dims}`,
    dims,
    embed: async (texts) => texts.map((t) => hashEmbed(t, dims)),
  };
}

const WEIGHT_WORD = 1;
const WEIGHT_BIGRAM = 0.5;
const WEIGHT_TRIGRAM = 0.3;

// FNV-1a offset bases, one per feature kind, so 'btc' the word and 'btc' the
// trigram (of 'btcusd') are different features.
const SEED_WORD = 0x811c9dc5;
const SEED_TRIGRAM = 0x050c5d1f;
const SALT_BIGRAM = 0x6c8e9cf5;
const SALT_SIGN = 0x5bd1e995;
const FNV_PRIME = 0x01000193;
const MARK_START = 0x5e; // '^' and '$' are never part of a word
const MARK_END = 0x24;

/** Words that carry no meaning for recall. Negations, directions and sizes (not, no, up, down, above, below, over, under, high, low, out) are kept on purpose. */
const STOPWORDS = [
  'a', 'an', 'the', 'and', 'or', 'but', 'of', 'to', 'in', 'on', 'at', 'for', 'with', 'by', 'from', 'as',
  'is', 'are', 'was', 'were', 'be', 'been', 'being', 'am', 'it', 'its', 'this', 'that', 'these', 'those',
  'i', 'we', 'you', 'he', 'she', 'they', 'me', 'us', 'them', 'my', 'our', 'your', 'his', 'her', 'their',
  'has', 'have', 'had', 'do', 'does', 'did', 'so', 'if', 'then', 'than', 'there', 'here', 'which', 'who',
  'what', 'will', 'would', 'can', 'could', 'should', 'just', 'into', 'onto', 'about', 's', 't',
];

/** Feeds one code point, as UTF-8 bytes, into an FNV-1a state. */
function fnvCp(h: number, cp: number): number {
  if (cp < 0x80) return Math.imul(h ^ cp, FNV_PRIME);
  if (cp < 0x800) {
    h = Math.imul(h ^ (0xc0 | (cp >>> 6)), FNV_PRIME);
  } else {
    if (cp < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (cp >>> 12)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (cp >>> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((cp >>> 12) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | ((cp >>> 6) & 0x3f)), FNV_PRIME);
  }
  return Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
}

/** murmur3's 32-bit finaliser: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function wordHash(word: string): number {
  let h = SEED_WORD;
  for (const ch of word) h = fnvCp(h, ch.codePointAt(0)!);
  return h >>> 0;
}

/** Stopwords by their raw word hash; a hit is confirmed against the text, so a collision never drops a real word. */
const STOP_BY_HASH = new Map(STOPWORDS.map((w) => [wordHash(w), w]));

// Character classes. ASCII by table; other code points by Unicode property,
// looked up once per code point and cached.
const CLS_UNKNOWN = 0;
const CLS_WORD = 1;
const CLS_OTHER = 2;
const WORD_RE = /^[\p{L}\p{N}\p{M}]$/u;
const bmpClass = new Uint8Array(0x10000);
for (let c = 0; c < 0x80; c++) {
  bmpClass[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ? CLS_WORD : CLS_OTHER;
}
const astralClass = new Map<number, boolean>();

function isWordCp(cp: number): boolean {
  if (cp < 0x10000) {
    let c = bmpClass[cp]!;
    if (c === CLS_UNKNOWN) bmpClass[cp] = c = WORD_RE.test(String.fromCharCode(cp)) ? CLS_WORD : CLS_OTHER;
    return c === CLS_WORD;
  }
  let w = astralClass.get(cp);
  if (w === undefined) astralClass.set(cp, (w = WORD_RE.test(String.fromCodePoint(cp))));
  return w;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** '.', '!', '?', ';' and line breaks end a sentence: no bigram spans them. (':' does not: 'BTC: long' is one thought.) */
const isSentenceEnd = (c: number) => c === 0x2e || c === 0x21 || c === 0x3f || c === 0x3b || c === 0x0a || c === 0x0d;

// Reused scratch state (embedding is synchronous, so one set per process is enough):
// an open-addressing table counting each distinct feature of the current text, and
// the current word's code points framed by the boundary markers.
const MIN_TABLE = 1024;
const MAX_TABLE = 1 << 16;
let tableMask = MIN_TABLE - 1;
let keys = new Uint32Array(MIN_TABLE);
let counts = new Uint32Array(MIN_TABLE);
let weights = new Float32Array(MIN_TABLE);
let used = new Int32Array(MIN_TABLE / 2);
let nUsed = 0;
let cps = new Int32Array(64);

/** Grows the table so a text of `len` UTF-16 units usually fits at load <= 1/2 (it has at most ~3 features per unit). */
function ensureTable(len: number): void {
  let size = tableMask + 1;
  const want = Math.min(MAX_TABLE, 6 * len + 16);
  if (size >= want) return;
  while (size < want) size *= 2;
  tableMask = size - 1;
  keys = new Uint32Array(size);
  counts = new Uint32Array(size);
  weights = new Float32Array(size);
  used = new Int32Array(size / 2);
}

/** Counts one occurrence of feature `key`; flushes into `out` when the table is half full (only very long texts). */
function addFeature(out: Float32Array, key: number, weight: number): void {
  let slot = key & tableMask;
  for (;;) {
    if (counts[slot] === 0) {
      keys[slot] = key;
      counts[slot] = 1;
      weights[slot] = weight;
      used[nUsed++] = slot;
      if (nUsed === used.length) flush(out);
      return;
    }
    if (keys[slot] === key) {
      counts[slot]!++;
      return;
    }
    slot = (slot + 1) & tableMask;
  }
}

/** Adds every counted feature to its signed bucket and empties the table. */
function flush(out: Float32Array): void {
  const dims = out.length;
  for (let i = 0; i < nUsed; i++) {
    const slot = used[i]!;
    const key = keys[slot]!;
    const n = counts[slot]!;
    const v = n === 1 ? weights[slot]! : weights[slot]! * (1 + Math.log(n));
    const bucket = key % dims;
    out[bucket]! += fmix32(key ^ SALT_SIGN) & 1 ? -v : v;
    counts[slot] = 0;
  }
  nUsed = 0;
}

/** One text's vector (see hashEmbedder). */
export function hashEmbed(text: string, dims: number): Float32Array {
  const out = new Float32Array(dims);
  const s = text.toLowerCase();
  const n = s.length;
  ensureTable(n);
  let prevWord = 0; // raw hash of the previous kept word in this sentence
  let hasPrev = false;
  let i = 0;
  while (i < n) {
    // Skip to the next word character, noting sentence ends.
    let c = s.charCodeAt(i);
    let cp = c;
    let width = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = (c - 0xd800) * 0x400 + (lo - 0xdc00) + 0x10000;
        width = 2;
      }
    }
    if (!isWordCp(cp)) {
      if (isSentenceEnd(c)) hasPrev = false;
      i += width;
      continue;
    }

    // Read the word: its code points go to cps[1..len], its raw hash to h.
    const start = i;
    let len = 0;
    let numeric = true;
    let h = SEED_WORD;
    for (;;) {
      if (len + 2 >= cps.length) {
        const bigger = new Int32Array(cps.length * 2);
        bigger.set(cps);
        cps = bigger;
      }
      cps[++len] = cp;
      h = fnvCp(h, cp);
      if (!isDigit(cp) && cp !== 0x2e) numeric = false; // '.' only gets here inside a number
      i += width;
      if (i >= n) break;
      c = s.charCodeAt(i);
      cp = c;
      width = 1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const lo = s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = (c - 0xd800) * 0x400 + (lo - 0xdc00) + 0x10000;
          width = 2;
        }
      }
      if (isWordCp(cp)) continue;
      // Numbers: '65000.5' keeps its decimal point; '42,000' drops the thousands separator.
      if (numeric && i + 1 < n && isDigit(s.charCodeAt(i + 1))) {
        if (c === 0x2e) {
          cp = c;
          continue;
        }
        if (c === 0x2c && i + 3 < n && isDigit(s.charCodeAt(i + 2)) && isDigit(s.charCodeAt(i + 3)) && !(i + 4 < n && isDigit(s.charCodeAt(i + 4)))) {
          i += 1;
          cp = s.charCodeAt(i);
          continue;
        }
      }
      break;
    }
    h >>>= 0;

    const stop = STOP_BY_HASH.get(h);
    if (stop !== undefined && stop.length === i - start && s.startsWith(stop, start)) continue;

    addFeature(out, fmix32(h), WEIGHT_WORD);
    if (hasPrev) addFeature(out, fmix32((Math.imul(prevWord, 0x9e3779b1) ^ h ^ SALT_BIGRAM) >>> 0), WEIGHT_BIGRAM);
    prevWord = h;
    hasPrev = true;

    if (!numeric) {
      cps[0] = MARK_START;
      cps[len + 1] = MARK_END;
      for (let k = 0; k < len; k++) {
        const t = fnvCp(fnvCp(fnvCp(SEED_TRIGRAM, cps[k]!), cps[k + 1]!), cps[k + 2]!);
        addFeature(out, fmix32(t >>> 0), WEIGHT_TRIGRAM);
      }
    }
  }
  flush(out);
  return normalizeInPlace(out);
}
