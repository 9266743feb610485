import { errorOfAnswer, GatewayError } from './gatewayError.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** JSON over HTTP to the gateway: an answer's body, or a GatewayError with its code and message. */
export class GatewayHttp {
  constructor(private readonly baseUrl: string, private readonly fetchFn: FetchLike, private readonly timeoutMs = 15_000) {}

  /** The URL of a gateway path ('' base: same origin). */
  url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = this.url(path);
    let res: Response;
    try {
      // A gateway that accepts the connection and never answers counts as no answer.
      const signal = AbortSignal.timeout(this.timeoutMs);
      res = await this.fetchFn(url, body === undefined
        ? { method, headers: { accept: 'application/json' }, signal }
        : { method, headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    } catch (err) {
      throw new GatewayError('GATEWAY_UNREACHABLE', `the gateway did not answer ${method} ${url} (${(err as Error).message}): showing the last known data; writes stay queued and are sent when it answers again`, 0, undefined, { cause: err });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw errorOfAnswer(res.status, parsed, `${method} ${url}`);
    return parsed as T;
  }

  /** Whether the gateway answers at all (GET /readyz; a 503 'degraded' is an answer). */
  async probe(): Promise<boolean> {
    try {
      const res = await this.fetchFn(this.url('/readyz'), { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
      await res.text().catch(() => '');
      return true;
    } catch {
      return false;
    }
  }
}
