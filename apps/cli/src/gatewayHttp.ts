/** The gateway over HTTP: one request, its error body mapped to the CLI's coded errors. Every gateway command uses it. */
import { CliError } from './errors.js';

export type Fetch = typeof fetch;

export class GatewayHttp {
  constructor(readonly baseUrl: string, private readonly fetchImpl: Fetch = fetch, private readonly timeoutMs = 10_000) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
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

}
