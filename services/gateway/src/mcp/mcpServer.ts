/**
 * The memory API as an MCP server (Model Context Protocol): the four tools an
 * LLM trading agent uses its memory with, bound to one agent. routes/mcp.ts
 * mounts it on POST /mcp (statelessly, one server per request) and says who
 * the agent is.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { FarmbrainError, MEMORY_KINDS, SCOPES } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import type { MemoryApi, RecallResponse, SimilarDecisionsResponse, WriteResult } from '../memory/types.js';

// ---------------------------------------------------------------------------
// Tool input schemas. Strict objects: unknown arguments (an `agentId`, say) are
// rejected with a message naming them, so a model learns it cannot pick whose
// memory it reads.
// ---------------------------------------------------------------------------

const time = (what: string) =>
  z.union([z.number(), z.string()]).describe(`${what}: ISO 8601 time (e.g. "2025-03-14T13:30:00Z") or epoch milliseconds.`);

const kind = z.enum(MEMORY_KINDS).describe(
  'What sort of memory this is. observation: something seen in the market right now (price action, order book, news, funding). ' +
    'reflection: your interpretation of your own decisions and trades. lesson: a durable rule learned from outcomes ' +
    '(e.g. "chasing BTC breakouts in the first 5 minutes of the US open lost money 4 times out of 5"). ' +
    'fact: stable reference information (contract specs, fees, trading hours, risk limits). procedure: a checklist or playbook you follow.',
);
const scope = z.enum(SCOPES);
const tags = z.array(z.string().min(1));

const RememberInput = z.strictObject({
  kind,
  text: z.string().min(1).describe('The memory itself, self-contained and specific: include the symbol, timeframe, numbers and why it matters, so it is useful when recalled weeks later out of context.'),
  tags: tags.optional().describe('Labels to filter on later, e.g. ["BTC-USD", "breakout", "us-open"]. Use symbols and setup names consistently.'),
  importance: z.number().min(0).max(1).optional().describe('0..1, default 0.5. How much this should weigh in future recalls: hard-won lessons and risk rules high (0.8-1), routine observations low (0.1-0.3).'),
  scope: scope.optional().describe("Who can read it. 'agent' (default): only you. 'team': your team (set scopeId to the team name). 'fleet': every agent. Shared scopes need write permission; you get an error naming the policy if you lack it."),
  scopeId: z.string().optional().describe("The team name when scope is 'team'; leave out otherwise."),
  expiresAt: time('When this memory stops being relevant (e.g. the end of a news event or a session); leave out for never').optional(),
});

const RecallInput = z.strictObject({
  query: z.string().optional().describe('What you are looking for, in words: e.g. "ETH short squeeze after funding flips negative" or "lessons about sizing into CPI releases". Searched by meaning and by keywords. Leave out to list by recency and importance only.'),
  k: z.number().int().min(1).max(100).optional().describe('How many memories to return, 1..100, default 10.'),
  kinds: z.array(kind).optional().describe('Only these kinds, e.g. ["lesson", "procedure"] before a trade.'),
  tags: tags.optional().describe('Only memories carrying ALL of these tags.'),
  anyTags: tags.optional().describe('Only memories carrying AT LEAST ONE of these tags, e.g. ["BTC-USD", "ETH-USD"].'),
  scopes: z.array(scope).optional().describe("Where to look: 'agent' (your own), 'team', 'fleet'. Default: all you can read."),
  minImportance: z.number().min(0).max(1).optional().describe('Only memories at least this important, 0..1.'),
  since: time('Only memories created at or after this time').optional(),
  until: time('Only memories created before this time').optional(),
  consistency: z.string().optional().describe('The consistencyToken returned by remember: makes this recall wait until that memory is searchable (read your own write).'),
});

const SimilarDecisionsInput = z.strictObject({
  situation: z.array(z.number()).min(1).describe('The current market situation as numbers: the same features, in the same order, as the situation vectors recorded on your decisions (e.g. [rsi14, atrPct, fundingRate, ...]).'),
  symbol: z.string().optional().describe('Only decisions on this symbol, e.g. "BTC-USD".'),
  k: z.number().int().min(1).max(200).optional().describe('How many nearest past decisions, 1..200, default 10.'),
  includeTeam: z.boolean().optional().describe("Also use your team's decisions (more data, other styles). Default false: only yours."),
  includeOpen: z.boolean().optional().describe('Also return decisions whose position is still open (no realized P&L yet). Default false.'),
});

const DecisionContextInput = z.strictObject({
  decisionId: z.string().min(1).describe('Id of one of your past decisions (decision_made event id).'),
});

const RememberOutputFields = z.object({
  memoryId: z.string().describe('Id of the memory.'),
  eventId: z.string().describe('Id of the memory_stored event in the log.'),
  consistencyToken: z.string().describe('Pass as `consistency` to recall to read this write back immediately.'),
});
// Loose: a field added to WriteResult later must not fail output validation (server and client both validate).
const RememberOutput = RememberOutputFields.loose();
// Compile-time guard: WriteResult must keep every field the output schema declares.
const _writeResultFits: z.infer<typeof RememberOutputFields> = null as unknown as WriteResult;
void _writeResultFits;

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

const json = (v: unknown) => JSON.stringify(v);
const oneLine = (s: string, max = 240) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function ok(result: object, summary?: string): CallToolResult {
  const content: CallToolResult['content'] = [];
  if (summary) content.push({ type: 'text', text: summary });
  content.push({ type: 'text', text: json(result) });
  return { content, structuredContent: result as Record<string, unknown> };
}

function recallSummary(r: RecallResponse): string {
  if (r.hits.length === 0) return `recallId ${r.recallId}: no memories matched.`;
  const lines = r.hits.map(
    (h, i) => `${i + 1}. score ${h.score.toFixed(4)} | ${h.memory.kind} | ${h.memory.scope}${h.memory.tags.length ? ` | ${h.memory.tags.join(',')}` : ''} | ${oneLine(h.memory.text)}`,
  );
  return [`recallId ${r.recallId} (cite it on the decision that follows): ${r.hits.length} memories, best first`, ...lines].join('\n');
}

function similarSummary(r: SimilarDecisionsResponse): string {
  const s = r.stats;
  const f = (n: number | null, d = 2) => (n === null ? 'n/a' : n.toFixed(d));
  const head = `${r.neighbours.length} similar past decisions; with realized outcome: ${s.n} (wins ${s.wins}, losses ${s.losses}, win rate ${f(s.winRate)}, mean P&L ${f(s.meanPnl)}, median P&L ${f(s.medianPnl)})`;
  const lines = r.neighbours.map(
    (d, i) => `${i + 1}. distance ${d.distance.toFixed(4)} | ${d.symbol} ${d.action} size ${d.size} | ${d.outcome.status}${d.outcome.realizedPnl === null ? '' : ` P&L ${d.outcome.realizedPnl}`} | ${oneLine(d.rationale, 160)}`,
  );
  return [head, ...lines].join('\n');
}

/** Api failures become tool errors (isError), not protocol errors, so the model reads what to fix. */
function failed(err: unknown, tool: string, agentId: string, log: Logger): CallToolResult {
  let text: string;
  if (err instanceof FarmbrainError) {
    text = `${err.code}: ${err.message}`;
    log.debug({ tool, agentId, code: err.code }, 'mcp tool call failed');
  } else {
    // Same policy as the HTTP error handler: internals go to the log, not to the caller.
    log.error({ err, tool, agentId }, 'mcp tool call failed');
    text = 'INTERNAL: internal error; see the gateway log';
  }
  return { content: [{ type: 'text', text }], isError: true };
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/** One MCP server bound to one (already authenticated) agent; tools close over `agentId`. */
export function createMcpServer(api: MemoryApi, agentId: string, log: Logger): McpServer {
  const server = new McpServer({ name: 'farmbrain', version: '0.1.0' }, {
    instructions:
      'farmbrain is your long-term trading memory. Before a trade: recall lessons and procedures for the symbol/setup, and recall_similar_decisions with the current situation vector to see how similar setups worked out. ' +
      'After an outcome: remember what you observed and learned. Use decision_context for post-trade reviews. You always act as the agent named by the connection; you cannot choose another agent.',
  });

  const call = async <T extends object>(tool: string, fn: () => Promise<T>, summary?: (r: T) => string): Promise<CallToolResult> => {
    try {
      const r = await fn();
      return ok(r, summary?.(r));
    } catch (err) {
      return failed(err, tool, agentId, log);
    }
  };

  server.registerTool('remember', {
    title: 'Remember',
    description:
      'Store a memory: a market observation, a reflection on a trade, a lesson learned from a win or loss, a reference fact or a procedure. ' +
      'Private to you unless scope says otherwise. Returns memoryId and a consistencyToken (pass it to recall to see the memory immediately).',
    inputSchema: RememberInput,
    outputSchema: RememberOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  }, (a) => call('remember', () => api.remember(agentId, a)));

  server.registerTool('recall', {
    title: 'Recall memories',
    description:
      'Search your memories (and team/fleet memories you may read) by meaning, keywords, recency and importance, e.g. before entering or sizing a trade. ' +
      'Returns the best hits with their scores, plus a recallId: cite it when you record the decision that follows, so the decision can be explained later.',
    inputSchema: RecallInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (a) => call('recall', () => api.recall(agentId, a), recallSummary));

  server.registerTool('recall_similar_decisions', {
    title: 'Similar past decisions and their outcomes',
    description:
      'Find your past trading decisions taken in market situations most like the current one (nearest neighbours of the situation feature vector), ' +
      'with their realized outcomes (P&L, win/loss, holding time) and aggregate stats (win rate, mean and median P&L). ' +
      'Use it to sanity-check a trade idea: what happened the last times you were in a setup like this?',
    inputSchema: SimilarDecisionsInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (a) => call('recall_similar_decisions', () => api.similarDecisions(agentId, a), similarSummary));

  server.registerTool('decision_context', {
    title: 'Why was this decision made',
    description:
      'Explain one of your past decisions for a post-trade review: the decision, the recalls made before it (queries and what came back), ' +
      'and the memories it cited as they were at the time (flagging any changed or forgotten since).',
    inputSchema: DecisionContextInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (a) => call('decision_context', () => api.decisionContext(agentId, a.decisionId)));

  return server;
}
