/** The gateway's dead-letter API, over HTTP (what `farmbrain dlq` uses). */
import type { DeadLetterItem, ReplayedDeadLetter } from '@farmbrain/contracts';
import { CliError } from '../errors.js';

/** As the gateway lists it and answers a replay (the API's shapes, from the contract). */
export type DeadLetter = DeadLetterItem;
export type Replayed = ReplayedDeadLetter;

export interface ListQuery {
  source: 'ingest' | 'projection';
  agentId?: string | undefined;
  code?: string | undefined;
  limit: number;
  /** nextCursor of the previous page */
  cursor?: string;
}

export type Fetch = typeof fetch;

export class GatewayClient {
  constructor(readonly baseUrl: string, private readonly fetchImpl: Fetch = fetch, private readonly timeoutMs = 10_000) {}

  async #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? ((err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (cause?.message ?? (err as Error).message));
      throw new CliError('SERVICE_UNAVAILABLE', `the gateway does not answer at ${this.baseUrl} (${why}): start the stack (farmbrain start), or point --gateway or FB_GATEWAY_URL at a running gateway`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (e?.code) throw new CliError(e.code, e.message ?? `${method} ${path}: ${res.status}`);
      throw new CliError('SERVICE_UNAVAILABLE', `${method} ${this.baseUrl}${path} answered ${res.status} ${text.slice(0, 200)}: is that a farmbrain gateway?`);
    }
    return json as T;
  }

  list(q: ListQuery): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const p = new URLSearchParams({ source: q.source, limit: String(q.limit) });
    if (q.agentId) p.set('agentId', q.agentId);
    if (q.code) p.set('code', q.code);
    if (q.cursor) p.set('cursor', q.cursor);
    return this.#request('GET', `/v1/dead-letters?${p}`);
  }

  get(id: string): Promise<DeadLetter> {
    return this.#request('GET', `/v1/dead-letters/${encodeURIComponent(id)}`);
  }

  replay(id: string): Promise<Replayed> {
    return this.#request('POST', `/v1/dead-letters/${encodeURIComponent(id)}/replay`, {});
  }
}
