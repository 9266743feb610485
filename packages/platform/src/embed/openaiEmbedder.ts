import { ConfigError } from '../errors.js';
import { EmbeddingsRefusedError, embeddingsUnavailable, fromBytes, normalizeInPlace, type Embedder } from './embedder.js';

export interface OpenAiEmbedderOptions {
  /** API base ('https://api.openai.com/v1'), a bare origin ('http://127.0.0.1:8000', /v1 is added) or the full '.../embeddings' URL. */
  url: string;
  model: string;
  apiKey?: string;
  /** Requested output dimensions (sent as `dimensions`); 0 or unset = the model's default. */
  dims?: number;
  /** Most texts per request (default 64). */
  batchSize?: number;
  /** Per attempt, including reading the body (default 10000). */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** Retries after the first attempt, for 429, 5xx, timeouts and network errors. */
const MAX_RETRIES = 3;
const BACKOFF_BASE_MS = 250;
/** Longest Retry-After honoured; a server asking for more gets this. */
const MAX_RETRY_AFTER_MS = 30_000;
/** Sent once, only to learn the dimensions when every text so far was blank. */
const PROBE_TEXT = 'dimension probe';

/**
 * An OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure-style proxies, vLLM,
 * Ollama, LM Studio, TEI...). Texts go in batches of `batchSize`, one request at a
 * time; blank texts are not sent (most servers reject '') and get the zero vector.
 */
export function openAiEmbedder(o: OpenAiEmbedderOptions): Embedder {
  return new OpenAiEmbedder(o);
}

class OpenAiEmbedder implements Embedder {
  readonly model: string;
  readonly #endpoint: string;
  /** The endpoint without credentials or query, for messages. */
  readonly #where: string;
  readonly #requestDims: number;
  readonly #batchSize: number;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  #dims: number;

  constructor(private readonly o: OpenAiEmbedderOptions) {
    const dims = o.dims ?? 0;
    const batchSize = o.batchSize ?? 64;
    const timeoutMs = o.timeoutMs ?? 10_000;
    if (!Number.isInteger(dims) || dims < 0) throw new ConfigError(`embeddings dims=${dims} must be a non-negative integer (0 = the model's default)`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`embeddings batchSize=${batchSize} must be a positive integer`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ConfigError(`embeddings timeoutMs=${timeoutMs} must be positive`);
    if (o.model === '') throw new ConfigError('embeddings model must not be empty');
    const endpoint = embeddingsEndpoint(o.url);
    this.#endpoint = endpoint.href;
    this.#where = endpoint.origin + endpoint.pathname;
    this.model = `openai-compat/${o.model}${dims > 0 ? `@${dims}` : ''}`;
    this.#dims = dims;
    this.#requestDims = dims;
    this.#batchSize = batchSize;
    this.#timeoutMs = timeoutMs;
    this.#fetch = o.fetchImpl ?? globalThis.fetch;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (o.apiKey) this.#headers.authorization = `Bearer ${o.apiKey}`;
  }

  get dims(): number {
    return this.#dims;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    const send: number[] = [];
    texts.forEach((t, i) => {
      if (t.trim() !== '') send.push(i);
    });
    for (let b = 0; b < send.length; b += this.#batchSize) {
      const idx = send.slice(b, b + this.#batchSize);
      const vecs = await this.#request(idx.map((i) => texts[i]!));
      idx.forEach((i, k) => (out[i] = vecs[k]!));
    }
    if (send.length < texts.length) {
      if (this.#dims === 0) await this.#request([PROBE_TEXT]);
      for (let i = 0; i < texts.length; i++) out[i] ??= new Float32Array(this.#dims);
    }
    return out;
  }

  /** One batch: POST with retries, then a validated, normalised vector per input, in input order. */
  async #request(input: string[]): Promise<Float32Array[]> {
    const body = JSON.stringify({
      model: this.o.model,
      input,
      ...(this.#requestDims > 0 ? { dimensions: this.#requestDims } : {}),
      encoding_format: 'float',
    });
    for (let attempt = 0; ; attempt++) {
      const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(this.#endpoint, { method: 'POST', headers: this.#headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
        text = await res.text();
      } catch (err) {
        if (attempt < MAX_RETRIES) {
          await sleep(backoff(attempt));
          continue;
        }
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const problem =
          e.name === 'TimeoutError' || e.name === 'AbortError'
            ? `did not answer within ${this.#timeoutMs} ms${tries}; raise FB_EMBEDDINGS_TIMEOUT_MS or lower FB_EMBEDDINGS_BATCH`
            : `is not reachable (${e.cause?.code ?? e.cause?.message ?? e.message})${tries}; check FB_EMBEDDINGS_URL, or unset it to use the built-in hash embedder`;
        throw embeddingsUnavailable(`embeddings endpoint ${this.#where} ${problem}`, err);
      }
      if (res.ok) return this.#parse(res.status, text, input.length);
      if ((res.status === 429 || res.status >= 500) && attempt < MAX_RETRIES) {
        await sleep(retryAfterMs(res.headers.get('retry-after')) ?? backoff(attempt));
        continue;
      }
      const message = `embeddings endpoint ${this.#where} answered HTTP ${res.status}${tries}: ${excerpt(text)}. ${this.#hint(res.status)}`;
      if (res.status === 400 || res.status === 413 || res.status === 422) throw new EmbeddingsRefusedError(res.status, message);
      throw embeddingsUnavailable(message);
    }
  }

  #hint(status: number): string {
    if (status === 401 || status === 403) {
      return this.o.apiKey ? 'Check FB_EMBEDDINGS_API_KEY (or OPENAI_API_KEY)' : 'No API key is set: set FB_EMBEDDINGS_API_KEY (or OPENAI_API_KEY)';
    }
    if (status === 404 || status === 405) return 'Check FB_EMBEDDINGS_URL: it should be the API base (e.g. https://api.openai.com/v1) or the full /embeddings URL';
    if (status === 400 || status === 422) {
      return `Check FB_EMBEDDINGS_MODEL='${this.o.model}'${this.#requestDims > 0 ? ` and FB_EMBEDDINGS_DIMS=${this.#requestDims} (not every model accepts dimensions)` : ''}`;
    }
    if (status === 429 || status >= 500) return 'The endpoint is overloaded or failing; retry later';
    return 'Check FB_EMBEDDINGS_URL and FB_EMBEDDINGS_MODEL';
  }

  /** Validates an OpenAI embeddings response: {data: [{index, embedding: number[] | base64}]}, one per input, all of one size. */
  #parse(status: number, text: string, n: number): Float32Array[] {
    const bad = (why: string) =>
      embeddingsUnavailable(
        `embeddings endpoint ${this.#where} answered HTTP ${status} with an unexpected body (${why}): ${excerpt(text)}. It must speak the OpenAI embeddings API; check FB_EMBEDDINGS_URL and FB_EMBEDDINGS_MODEL`,
      );
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw bad('not JSON');
    }
    const data = (json as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw bad('no data array');
    if (data.length !== n) throw bad(`data has ${data.length} items for ${n} inputs`);
    const out = new Array<Float32Array | undefined>(n);
    let dims = 0;
    data.forEach((item: { index?: unknown; embedding?: unknown } | null, i) => {
      const index = item?.index ?? i;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= n || out[index]) {
        throw bad(`data[${i}].index ${JSON.stringify(index)} is out of range or repeated`);
      }
      const v = toVector(item?.embedding);
      if (!v || v.length === 0) throw bad(`data[${i}].embedding is not a non-empty array of finite numbers`);
      if (dims === 0) dims = v.length;
      else if (v.length !== dims) throw bad(`data[${i}].embedding has ${v.length} dimensions, data[0] has ${dims}`);
      out[index] = normalizeInPlace(v);
    });
    if (this.#dims !== 0 && dims !== this.#dims) {
      throw embeddingsUnavailable(
        `embeddings endpoint ${this.#where} returned ${dims}-dimensional vectors, but ${this.#dims} are expected ` +
          `(${this.#requestDims > 0 ? "FB_EMBEDDINGS_DIMS; the model ignores 'dimensions'" : 'as it returned before; the model behind it changed'}). ` +
          'Vectors of different sizes cannot be compared: check FB_EMBEDDINGS_MODEL and FB_EMBEDDINGS_DIMS',
      );
    }
    this.#dims = dims;
    return out as Float32Array[];
  }
}

/** Where to POST: '.../embeddings' as given; a bare origin gets '/v1/embeddings'; any other path gets '/embeddings'. */
export function embeddingsEndpoint(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`embeddings url '${url}' is not a URL; use the API base, e.g. https://api.openai.com/v1`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`embeddings url '${url}' must be http(s)`);
  const path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith('/embeddings')) u.pathname = path;
  else if (path === '') u.pathname = '/v1/embeddings';
  else u.pathname = `${path}/embeddings`;
  return u;
}

/** A float array, or (from servers that ignore encoding_format) base64 float32 LE; undefined if neither or not finite. */
function toVector(e: unknown): Float32Array | undefined {
  let v: Float32Array;
  if (Array.isArray(e)) {
    v = new Float32Array(e.length);
    for (let i = 0; i < e.length; i++) {
      const x: unknown = e[i];
      if (typeof x !== 'number') return undefined;
      v[i] = x;
    }
  } else if (typeof e === 'string') {
    const b = Buffer.from(e, 'base64');
    if (b.length % 4 !== 0) return undefined;
    v = Float32Array.from(fromBytes(b));
  } else {
    return undefined;
  }
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return undefined;
  return v;
}

/** Retry-After as seconds or an HTTP date, capped; undefined when absent or unreadable. */
function retryAfterMs(h: string | null): number | undefined {
  if (h === null || h.trim() === '') return undefined;
  const secs = Number(h);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(h) - Date.now();
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Exponential backoff with jitter: ~250, 500, 1000 ms. */
const backoff = (attempt: number) => BACKOFF_BASE_MS * 2 ** attempt * (0.75 + Math.random() * 0.5);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The start of a response body, on one line, for error messages. */
function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t === '') return '(empty body)';
  return t.length > 200 ? `${t.slice(0, 200)}...` : t;
}
