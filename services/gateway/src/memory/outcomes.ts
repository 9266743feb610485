import { FarmbrainError, parseInstant } from '@farmbrain/contracts';
import type { Pool } from '@farmbrain/platform';
import type { DecisionOutcome, OutcomeStats, SimilarDecision, SimilarDecisionsRequest, SimilarDecisionsResponse } from './types.js';

export const DEFAULT_K = 10;
export const MAX_K = 200;
export const MAX_SITUATION_DIMS = 4096;

/**
 * The k past decisions of `agentIds` whose situation vectors are nearest (Euclidean)
 * to `req.situation`, each with the outcome of the position(s) it led to, and
 * summary statistics of those outcomes. The caller decides whose decisions count
 * (the agent alone, or its team): this function never widens `agentIds`.
 *
 * Behaviour:
 * - Exact search in SQL over every candidate decision: same agent set, a situation
 *   of the same dimension as the query (other dimensions are ignored, never an
 *   error), optional symbol, `since` inclusive and `until` exclusive on occurred_at.
 * - Ties in distance: newer decision first, then the larger event id (deterministic).
 * - A decision's outcome is the positions of the same agent whose `decision_ids`
 *   hold the decision's event id (the trade it opened, or the close it cited).
 *   A decision with no position at all (a hold, an order that never filled) has no
 *   outcome and is never returned, even with includeOpen: there is nothing to learn
 *   from it. It is `closed` when every one of its positions is closed (realizedPnl =
 *   their sum, holdingMs = last close - first open) and `open` otherwise (nulls);
 *   open ones are returned only with includeOpen. Excluded decisions do not take a
 *   place among the k: the answer is the k nearest decisions that have an outcome.
 * - `win` is realizedPnl > 0, false when < 0, and null at exactly 0 (break-even is
 *   neither a win nor a loss; see outcomeStats).
 * - One round trip: the candidates are sorted by distance, and positions are looked
 *   up (GIN index on positions.decision_ids) in that order until k qualify.
 */
export async function similarDecisions(pool: Pool, agentIds: readonly string[], req: SimilarDecisionsRequest): Promise<SimilarDecisionsResponse> {
  const q = similarDecisionsQuery(agentIds, req);
  if (!q) return { neighbours: [], stats: outcomeStats([]) };
  const r = await pool.query<NeighbourRow>(q.text, q.values);
  const neighbours = r.rows.map(neighbourOut);
  return { neighbours, stats: outcomeStats(neighbours) };
}

/**
 * The validated query behind similarDecisions (exported so tests can EXPLAIN it);
 * undefined when there is nothing to search (no agents). Throws INVALID_REQUEST.
 */
export function similarDecisionsQuery(agentIds: readonly string[], req: SimilarDecisionsRequest): { text: string; values: unknown[] } | undefined {
  const situation = checkSituation(req.situation);
  const k = checkK(req.k);
  const since = parseInstant('since', req.since);
  const until = parseInstant('until', req.until);
  if (req.symbol !== undefined && typeof req.symbol !== 'string') invalid('symbol must be a string');
  if (agentIds.length === 0) return undefined;

  const values: unknown[] = [[...agentIds], situation, situation.length];
  const conds = ['d.agent_id = ANY($1::text[])', 'cardinality(d.situation) > 0', 'cardinality(d.situation) = $3'];
  const add = (sql: (p: string) => string, v: unknown) => {
    values.push(v);
    conds.push(sql(`$${values.length}`));
  };
  if (req.symbol) add((p) => `d.symbol = ${p}`, req.symbol);
  if (since) add((p) => `d.occurred_at >= ${p}`, since);
  if (until) add((p) => `d.occurred_at < ${p}`, until);
  values.push(req.includeOpen === true);
  const includeOpen = `$${values.length}`;
  values.push(k);
  const limit = `$${values.length}`;

  // The inner query is ordered and not flattened (it has ORDER BY), so the nested
  // loop over positions keeps its order and LIMIT stops after k qualifying rows.
  const text = `
    SELECT c.event_id::text AS decision_id, c.agent_id, c.symbol, c.action, c.size, c.confidence, c.rationale,
           c.occurred_ms, c.situation, c.distance,
           o.position_ids, o.open_count, o.realized_pnl, o.holding_ms
      FROM (
        SELECT d.event_id, d.agent_id, d.symbol, d.action, d.size, d.confidence, d.rationale, d.occurred_at,
               round(extract(epoch FROM d.occurred_at) * 1000)::bigint AS occurred_ms, d.situation,
               (SELECT sqrt(sum((s.x - ($2::float8[])[s.i]) * (s.x - ($2::float8[])[s.i])))
                  FROM unnest(d.situation) WITH ORDINALITY AS s(x, i)) AS distance
          FROM decisions d
         WHERE ${conds.join(' AND ')}
         ORDER BY distance, d.occurred_at DESC, d.event_id DESC
      ) c
      CROSS JOIN LATERAL (
        SELECT array_agg(p.position_id::text ORDER BY p.opened_at, p.position_id) AS position_ids,
               count(*) FILTER (WHERE p.status <> 'closed') AS open_count,
               sum(p.realized_pnl) AS realized_pnl,
               round(extract(epoch FROM max(p.closed_at) - min(p.opened_at)) * 1000)::bigint AS holding_ms
          FROM positions p
         WHERE p.decision_ids @> ARRAY[c.event_id::text]
           -- Only the deciding agent's own positions. Kept out of the index conditions
           -- (IS TRUE): the planner otherwise ANDs in a bitmap of all the agent's
           -- positions, many pages, where the GIN probe alone finds one or two rows.
           AND (p.agent_id = c.agent_id) IS TRUE
      ) o
     WHERE o.position_ids IS NOT NULL AND (o.open_count = 0 OR ${includeOpen})
     ORDER BY c.distance, c.occurred_at DESC, c.event_id DESC
     LIMIT ${limit}`;
  return { text, values };
}

/**
 * Statistics over the neighbours with a realized (closed) outcome; open ones are
 * ignored. Break-even outcomes (P&L exactly 0) count in n and in every P&L
 * statistic, but neither as a win nor as a loss: wins + losses <= n, and
 * winRate = wins / n (a break-even is not a win). Nulls when n = 0; stdevPnl
 * (sample, n - 1) is null when n < 2.
 */
export function outcomeStats(neighbours: readonly Pick<SimilarDecision, 'outcome'>[]): OutcomeStats {
  const closed = neighbours
    .map((x) => x.outcome)
    .filter((o): o is DecisionOutcome & { realizedPnl: number } => o.status === 'closed' && o.realizedPnl !== null);
  const n = closed.length;
  if (n === 0) {
    return { n: 0, wins: 0, losses: 0, winRate: null, meanPnl: null, stdevPnl: null, medianPnl: null, minPnl: null, maxPnl: null, meanHoldingMs: null };
  }
  const pnls = closed.map((o) => o.realizedPnl).sort((a, b) => a - b);
  const wins = pnls.filter((p) => p > 0).length;
  const losses = pnls.filter((p) => p < 0).length;
  const mean = pnls.reduce((s, p) => s + p, 0) / n;
  const stdev = n < 2 ? null : Math.sqrt(pnls.reduce((s, p) => s + (p - mean) ** 2, 0) / (n - 1));
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? pnls[mid]! : (pnls[mid - 1]! + pnls[mid]!) / 2;
  const holdings = closed.map((o) => o.holdingMs).filter((h): h is number => h !== null);
  return {
    n,
    wins,
    losses,
    winRate: wins / n,
    meanPnl: mean,
    stdevPnl: stdev,
    medianPnl: median,
    minPnl: pnls[0]!,
    maxPnl: pnls[n - 1]!,
    meanHoldingMs: holdings.length > 0 ? holdings.reduce((s, h) => s + h, 0) / holdings.length : null,
  };
}

interface NeighbourRow {
  decision_id: string; agent_id: string; symbol: string; action: string; size: number; confidence: number; rationale: string;
  occurred_ms: number; situation: number[]; distance: number;
  position_ids: string[]; open_count: number; realized_pnl: number | null; holding_ms: number | null;
}

function neighbourOut(r: NeighbourRow): SimilarDecision {
  const closed = r.open_count === 0;
  const pnl = closed ? r.realized_pnl : null;
  return {
    decisionId: r.decision_id, agentId: r.agent_id, symbol: r.symbol, action: r.action, size: r.size, confidence: r.confidence,
    rationale: r.rationale, occurredAt: r.occurred_ms, situation: r.situation, distance: r.distance,
    outcome: {
      status: closed ? 'closed' : 'open',
      realizedPnl: pnl,
      win: pnl === null || pnl === 0 ? null : pnl > 0,
      holdingMs: closed ? r.holding_ms : null,
      positionIds: r.position_ids,
    },
  };
}

const invalid = (message: string): never => {
  throw new FarmbrainError('INVALID_REQUEST', message);
};

function checkSituation(v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0) return invalid('situation must be a non-empty array of numbers');
  if (v.length > MAX_SITUATION_DIMS) return invalid(`situation has ${v.length} dimensions; at most ${MAX_SITUATION_DIMS}`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) invalid(`situation[${i}] is ${JSON.stringify(x) ?? String(x)}; every element must be a finite number`);
  });
  return v as number[];
}

function checkK(v: unknown): number {
  if (v === undefined) return DEFAULT_K;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_K) return invalid(`k must be an integer from 1 to ${MAX_K}; got ${String(v)}`);
  return v;
}
