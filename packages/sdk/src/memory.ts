/**
 * Reading memory back through the farmbrain gateway's HTTP API: recall,
 * outcome-linked similar decisions, and a decision's context. The request and
 * response shapes are the contracts package's memory API types; JSON on the
 * wire, times in epoch milliseconds.
 */
import { AGENT_ID_PATTERN, FarmbrainError, MAX_TIME_MS, parseInstant, type InstantInput } from '@farmbrain/contracts';
import { GatewayError, InvalidRequestError } from './errors.js';

// Wire types: one definition in contracts, shared with the gateway.
import type {
  ConsistencyToken,
  RememberInput,
  MemoryPatch,
  WriteResult,
  RecallFilters,
  RecallRequest,
  ScoreParts,
  MemoryView,
  RecallHit,
  RecallResponse,
  SimilarDecisionsRequest,
  DecisionOutcome,
  SimilarDecision,
  OutcomeStats,
  SimilarDecisionsResponse,
  VersionedMemory,
  RecallRecord,
  DecisionContext,
} from '@farmbrain/contracts';
export type {
  ConsistencyToken,
  RememberInput,
  MemoryPatch,
  WriteResult,
  RecallFilters,
  RecallRequest,
  ScoreParts,
  MemoryView,
  RecallHit,
  RecallResponse,
  SimilarDecisionsRequest,
  DecisionOutcome,
  SimilarDecision,
  OutcomeStats,
  SimilarDecisionsResponse,
  VersionedMemory,
  RecallRecord,
  DecisionContext,
};

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/** Per-call options of a gateway request. */
export interface RequestOptions {
  /** Overrides the client's timeout (`gatewayTimeoutMs`) for this call. */
  timeoutMs?: number;
  /** Cancels the call; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Per-call options of `FarmbrainAgent`'s reads.
 *
 * Read-your-writes is the default: the read first waits until JetStream has
 * acknowledged every event this agent recorded before the call (so the token
 * covers them), then sends the agent's consistency token, and the gateway
 * answers once it has applied them.
 */
export interface ReadOptions extends RequestOptions {
  /**
   * - absent (default): read-your-writes with the agent's own token, as above.
   *   A `consistency` in the request body, if any, is used instead.
   * - a token: wait for exactly the writes that token covers (e.g. a
   *   teammate's `Receipt.consistencyToken`); the outbox is not waited for.
   * - `'none'`: no waiting at all, neither for the outbox nor in the gateway;
   *   the read may miss recent writes.
   */
  consistency?: ConsistencyToken | 'none';
  /** How long to wait for this agent's unacknowledged writes before failing with FLUSH_TIMEOUT. Default: the gateway timeout. */
  flushTimeoutMs?: number;
}

export interface GatewayClientOptions {
  /** Base URL of the gateway, e.g. 'http://127.0.0.1:8080' (a path prefix is kept: 'https://host/farmbrain'). */
  baseUrl: string;
  /** How long one request may take, in ms. Default 10000. */
  timeoutMs?: number;
}

export const DEFAULT_GATEWAY_TIMEOUT_MS = 10_000;

/**
 * A small HTTP client for the gateway's memory reads. `FarmbrainAgent` uses
 * one when given the `gateway` option; use it directly to read as any agent
 * (dashboards, tools). It validates requests client-side (INVALID_REQUEST),
 * and maps failures to {@link GatewayError}: the gateway's own
 * `{ error: { code, message, details } }`, or GATEWAY_UNREACHABLE,
 * GATEWAY_TIMEOUT, GATEWAY_ERROR (a non-farmbrain error response) and
 * GATEWAY_BAD_RESPONSE (a 2xx that is not JSON).
 *
 * @example
 * ```ts
 * const gw = new GatewayClient({ baseUrl: 'http://127.0.0.1:8080' });
 * const { hits } = await gw.recall('momentum-7', { query: 'btc breakout', k: 5 });
 * ```
 */
export class GatewayClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;

  constructor(opts: GatewayClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new FarmbrainError('INVALID_GATEWAY_URL', `gateway '${opts.baseUrl}' is not a URL; pass the gateway's base URL, e.g. 'http://127.0.0.1:8080'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FarmbrainError('INVALID_GATEWAY_URL', `gateway '${opts.baseUrl}' must be an http:// or https:// URL, e.g. 'http://127.0.0.1:8080'`);
    }
    if (url.search || url.hash) {
      throw new FarmbrainError('INVALID_GATEWAY_URL', `gateway '${opts.baseUrl}' must be a base URL without ?query or #fragment`);
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
    checkTimeout('gatewayTimeoutMs', this.timeoutMs);
  }

  /** `POST /v1/agents/:agentId/recall`: ranked memories for a query and/or vector. */
  recall(agentId: string, req: RecallRequest, opts?: RequestOptions): Promise<RecallResponse> {
    return this.#call(() => {
      checkAgentId(agentId);
      checkRecallRequest(req);
      return ['POST', `${agentPath(agentId)}/recall`, withConsistency(req, req.consistency)];
    }, opts);
  }

  /** `POST /v1/agents/:agentId/recall/decisions`: past decisions taken in the most similar situations, with their outcomes. */
  recallSimilarDecisions(agentId: string, req: SimilarDecisionsRequest, opts?: RequestOptions): Promise<SimilarDecisionsResponse> {
    return this.#call(() => {
      checkAgentId(agentId);
      checkSimilarDecisionsRequest(req);
      return ['POST', `${agentPath(agentId)}/recall/decisions`, withConsistency(req, req.consistency)];
    }, opts);
  }

  /** `GET /v1/agents/:agentId/decisions/:decisionId/context`: the recalls and memories behind a decision. */
  decisionContext(
    agentId: string,
    decisionId: string,
    opts: RequestOptions & { consistency?: ConsistencyToken } = {},
  ): Promise<DecisionContext> {
    return this.#call(() => {
      checkAgentId(agentId);
      checkDecisionId(decisionId);
      const token = opts.consistency === 'none' ? undefined : opts.consistency;
      if (token !== undefined) checkToken(token);
      const qs = token ? `?consistency=${encodeURIComponent(token)}` : '';
      return ['GET', `${agentPath(agentId)}/decisions/${encodeURIComponent(decisionId)}/context${qs}`, undefined];
    }, opts);
  }

  async #call<T>(build: () => [method: 'GET' | 'POST', path: string, body: unknown], opts: RequestOptions = {}): Promise<T> {
    const [method, path, body] = build(); // validation errors reject the promise
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    checkTimeout('timeoutMs', timeoutMs);
    const url = this.baseUrl + path;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    let status = 0;
    let statusText = '';
    let text: string;
    try {
      const res = await fetch(url, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      status = res.status;
      statusText = res.statusText;
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timeout.aborted) {
        throw new GatewayError(
          'GATEWAY_TIMEOUT',
          `the farmbrain gateway did not answer ${method} ${url} within ${timeoutMs} ms. ` +
            `A read-your-writes read waits until the gateway has applied your writes, so a lagging pipeline shows up here: ` +
            `raise gatewayTimeoutMs (or pass timeoutMs), or read without waiting with { consistency: 'none' }.`,
          status,
          undefined,
          { cause: err },
        );
      }
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new GatewayError(
        'GATEWAY_UNREACHABLE',
        `cannot reach the farmbrain gateway at ${url} (${why}). ` +
          `Check that the gateway is running and that the 'gateway' option ('${this.baseUrl}') is its base URL, e.g. 'http://127.0.0.1:8080'.`,
        status,
        undefined,
        { cause: err },
      );
    }
    let json: unknown;
    let parsed = false;
    try {
      json = JSON.parse(text);
      parsed = true;
    } catch {
      // handled below
    }
    const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    if (status < 200 || status >= 300) {
      const e = parsed && isObject(json) && isObject(json.error) ? json.error : undefined;
      if (e && typeof e.code === 'string' && typeof e.message === 'string') {
        throw new GatewayError(e.code, `${e.message} (HTTP ${status} from ${method} ${url})`, status, e.details);
      }
      throw new GatewayError(
        'GATEWAY_ERROR',
        `${method} ${url} answered HTTP ${status} ${statusText} without a farmbrain error body` +
          `${snippet ? `: ${snippet}` : ''}. Is '${this.baseUrl}' the farmbrain gateway (and any proxy in front of it healthy)?`,
        status,
        parsed ? json : snippet,
      );
    }
    if (!parsed || !isObject(json)) {
      throw new GatewayError(
        'GATEWAY_BAD_RESPONSE',
        `${method} ${url} answered HTTP ${status} with a body that is not a JSON object: ${snippet || '(empty)'}. Is '${this.baseUrl}' the farmbrain gateway?`,
        status,
        snippet,
      );
    }
    return json as T;
  }
}

// ---------------------------------------------------------------------------
// Validation (cheap checks only; the gateway enforces the rest)
// ---------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `an array` : String(v));

const agentPath = (agentId: string): string => `/v1/agents/${encodeURIComponent(agentId)}`;

function withConsistency<T extends { consistency?: ConsistencyToken }>(req: T, token: ConsistencyToken | undefined): T {
  const { consistency: _drop, ...rest } = req;
  return (token === undefined || token === 'none' ? rest : { ...rest, consistency: token }) as T;
}

function checkTimeout(field: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new FarmbrainError('INVALID_OPTION', `${field} must be a positive number of milliseconds, got ${show(ms)}`);
  }
}

function checkAgentId(agentId: string): void {
  if (typeof agentId !== 'string' || !AGENT_ID_PATTERN.test(agentId)) {
    throw new InvalidRequestError('agentId', `must be 1..64 of A-Z a-z 0-9 _ -, got ${show(agentId)}`);
  }
}

function checkK(k: unknown, max: number): void {
  if (k === undefined) return;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max) {
    throw new InvalidRequestError('k', `must be an integer from 1 to ${max}, got ${show(k)}`);
  }
}

function checkNumbers(field: string, v: unknown): void {
  if (!Array.isArray(v)) throw new InvalidRequestError(field, `must be an array of numbers, got ${show(v)}`);
  if (v.length === 0) throw new InvalidRequestError(field, 'must not be empty');
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new InvalidRequestError(`${field}[${i}]`, `must be a finite number, got ${show(x)}`);
    }
  }
}

function checkToken(token: unknown): void {
  if (typeof token !== 'string' || token === '') {
    throw new InvalidRequestError('consistency', `must be a consistency token a write returned (or 'none'), got ${show(token)}`);
  }
}

/** A time filter (since / until): what the gateway accepts, by the contract's one time parser. */
function checkTime(field: string, v: unknown): void {
  try {
    parseInstant(field, v as InstantInput | undefined);
  } catch {
    throw new InvalidRequestError(field, `must be epoch milliseconds (0 to ${MAX_TIME_MS}) or an ISO 8601 date-time, got ${show(v)}`);
  }
}

function checkBody(req: unknown): asserts req is Record<string, unknown> {
  if (!isObject(req)) throw new InvalidRequestError('request', `must be an object, got ${show(req)}`);
}

/** @internal Validates a RecallRequest; throws InvalidRequestError. */
export function checkRecallRequest(req: RecallRequest): void {
  checkBody(req);
  if (req.query !== undefined && typeof req.query !== 'string') {
    throw new InvalidRequestError('query', `must be a string, got ${show(req.query)}`);
  }
  if (req.vector !== undefined) checkNumbers('vector', req.vector);
  checkK(req.k, 100);
  checkTime('since', req.since);
  checkTime('until', req.until);
  if (req.weights !== undefined) {
    if (!isObject(req.weights)) throw new InvalidRequestError('weights', `must be an object, got ${show(req.weights)}`);
    for (const [name, w] of Object.entries(req.weights)) {
      if (w === undefined) continue;
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
        throw new InvalidRequestError(`weights.${name}`, `must be a finite number >= 0, got ${show(w)}`);
      }
    }
  }
  if (req.consistency !== undefined) checkToken(req.consistency);
}

/** @internal Validates a SimilarDecisionsRequest; throws InvalidRequestError. */
export function checkSimilarDecisionsRequest(req: SimilarDecisionsRequest): void {
  checkBody(req);
  checkNumbers('situation', req.situation);
  checkK(req.k, 200);
  checkTime('since', req.since);
  checkTime('until', req.until);
  if (req.consistency !== undefined) checkToken(req.consistency);
}

/** @internal */
export function checkDecisionId(decisionId: string): void {
  if (typeof decisionId !== 'string' || decisionId.trim() === '') {
    throw new InvalidRequestError('decisionId', `must be a non-empty string (the decision's eventId), got ${show(decisionId)}`);
  }
}
