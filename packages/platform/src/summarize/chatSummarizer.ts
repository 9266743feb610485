import { ConfigError } from '../errors.js';
import { readers, type Env } from '../config.js';

/** Writes one text that stands for several near-duplicate memories. */
export interface Summarizer {
  /** Recorded with each summary (`summary:<model>`). */
  readonly model: string;
  summarize(texts: readonly string[]): Promise<string>;
}

export interface SummaryConfig {
  /** FB_SUMMARY_URL: an OpenAI-compatible API base (…/v1) or its …/chat/completions URL; '' = no summaries (the most representative text is kept). */
  url: string;
  model: string;
  apiKey: string;
  timeoutMs: number;
}

export function loadSummaryConfig(env: Env): SummaryConfig {
  const r = readers(env);
  const cfg = { url: r.str('FB_SUMMARY_URL', ''), model: r.str('FB_SUMMARY_MODEL', ''), apiKey: r.str('FB_SUMMARY_API_KEY', ''), timeoutMs: r.int('FB_SUMMARY_TIMEOUT_MS', 30_000, 100, 600_000) };
  if (cfg.url !== '' && cfg.model === '') throw new ConfigError('FB_SUMMARY_URL is set but FB_SUMMARY_MODEL is not: name the chat model that writes consolidated memories (e.g. gpt-4o-mini)');
  if (cfg.url !== '') {
    try {
      new URL(cfg.url);
    } catch {
      throw new ConfigError(`FB_SUMMARY_URL='${cfg.url}' is not a URL (e.g. http://127.0.0.1:8000/v1)`);
    }
  }
  return cfg;
}

/** The configured summarizer, or undefined (consolidation then keeps the most representative original's text). */
export const createSummarizer = (cfg: SummaryConfig, fetchImpl: typeof fetch = globalThis.fetch): Summarizer | undefined =>
  cfg.url === '' ? undefined : chatSummarizer({ ...cfg, fetchImpl });

const PROMPT = 'You consolidate the memories of an AI trading agent. The memories below say nearly the same thing. '
  + 'Write ONE memory, at most three sentences, that keeps every fact they share and the range of the numbers that differ (e.g. losses of $79-$91). '
  + 'Answer with the memory text only.';

/** Retries after the first attempt, for 429, 5xx, timeouts and network errors. */
const RETRIES = 2;

/** An OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, Ollama, LM Studio…). */
export function chatSummarizer(o: SummaryConfig & { fetchImpl?: typeof fetch }): Summarizer {
  const base = o.url.replace(/\/+$/, '');
  const endpoint = base.endsWith('/chat/completions') ? base : `${base}/chat/completions`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  const f = o.fetchImpl ?? globalThis.fetch;
  return {
    model: o.model,
    async summarize(texts) {
      const body = JSON.stringify({
        model: o.model, temperature: 0,
        messages: [{ role: 'system', content: PROMPT }, { role: 'user', content: texts.map((t, i) => `${i + 1}. ${t}`).join('\n') }],
      });
      let last: unknown;
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        try {
          const res = await f(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
          if (res.status === 429 || res.status >= 500) {
            last = new Error(`the summary endpoint answered ${res.status}`);
            continue;
          }
          if (!res.ok) throw new SummaryRefusedError(`the summary endpoint ${endpoint} refused the request: ${res.status} ${(await res.text()).slice(0, 200)}`);
          const j = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
          const text = j.choices?.[0]?.message?.content;
          if (typeof text !== 'string' || text.trim() === '') throw new SummaryRefusedError(`the summary endpoint ${endpoint} answered without a message text`);
          return text.trim();
        } catch (err) {
          if (err instanceof SummaryRefusedError) throw err;
          last = err;
        }
      }
      throw new Error(`the summary endpoint ${endpoint} did not answer after ${RETRIES + 1} attempts: ${(last as Error)?.message ?? String(last)}`, { cause: last });
    },
  };
}

/** The endpoint refused the request as such (4xx other than 429): retrying will not help. */
export class SummaryRefusedError extends Error {
  readonly code = 'SUMMARY_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'SummaryRefusedError';
  }
}
