/** The gateway's dead-letter API, over HTTP (what `farmbrain dlq` uses). */
import type { DeadLetterItem, ReplayedDeadLetter } from '@farmbrain/contracts';
import { GatewayHttp, type Fetch } from '../gatewayHttp.js';

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

export type { Fetch };

export class GatewayClient {
  readonly #http: GatewayHttp;

  constructor(readonly baseUrl: string, fetchImpl: Fetch = fetch, timeoutMs = 10_000) {
    this.#http = new GatewayHttp(baseUrl, fetchImpl, timeoutMs);
  }

  #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return this.#http.request<T>(method, path, body);
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
