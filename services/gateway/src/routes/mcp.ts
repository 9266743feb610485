/**
 * The MCP server (mcp/mcpServer.ts) over Streamable HTTP, on /mcp (hidden from the OpenAPI document).
 *
 * Stateless: every POST /mcp gets a fresh McpServer + transport (no session
 * ids, nothing kept between requests), which scales out like the REST routes.
 * GET (server-initiated SSE stream) and DELETE (session end) answer 405, as
 * the SDK prescribes for stateless servers.
 *
 * Identity: the agent is the `Fb-Agent-Id` request header, never a tool
 * argument: a model could otherwise pass any id and read another agent's
 * private memories. The header is taken at face value here; real deployments
 * must put an authenticating proxy (mTLS / JWT validation that sets
 * Fb-Agent-Id from the verified identity and strips any client-supplied one)
 * in front of the gateway. Authentication proper is a later issue.
 */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AGENT_ID_PATTERN } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import { createMcpServer } from '../mcp/mcpServer.js';
import type { MemoryApi } from '../memory/types.js';

/** The header that names the calling agent (lower case, as node presents it). */
export const AGENT_ID_HEADER = 'fb-agent-id';
export const MCP_PATH = '/mcp';

export type McpRoutesOptions = {
  /**
   * Handed to each request's McpServer, whose tools call it at call time: the gateway passes a proxy that
   * resolves to the live projection version's memory API at each property access (live/following.ts).
   */
  memory: MemoryApi;
  log: Logger;
};

const rpcError = (reply: FastifyReply, status: number, message: string, id: unknown = null) =>
  reply.status(status).header('content-type', 'application/json').send({ jsonrpc: '2.0', error: { code: -32000, message }, id });

/** The JSON-RPC id of a single request body, for error replies; null for batches and notifications. */
const rpcIdOf = (body: unknown): string | number | null => {
  const id = body && typeof body === 'object' && !Array.isArray(body) ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
};

/** POST/GET/DELETE /mcp. Register after @fastify/swagger (so `hide` applies). */
export const mcpRoutes: FastifyPluginAsyncTypebox<McpRoutesOptions> = async (app, { memory, log }) => {
  app.post(MCP_PATH, { schema: { hide: true } }, async (req, reply) => {
    const header = req.headers[AGENT_ID_HEADER];
    const agentId = typeof header === 'string' ? header : undefined;
    if (agentId === undefined || !AGENT_ID_PATTERN.test(agentId)) {
      const why = agentId === undefined ? (Array.isArray(header) ? 'is repeated' : 'is missing') : 'is not a valid agent id';
      return rpcError(reply, 401, `Unauthorized: the Fb-Agent-Id header ${why}. Set the HTTP header Fb-Agent-Id to your agent id (${AGENT_ID_PATTERN.source}) on every request to ${MCP_PATH}.`, rpcIdOf(req.body));
    }

    const server = createMcpServer(memory, agentId, log);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack(); // the transport writes reply.raw itself
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req.raw, reply.raw, req.body);
    } catch (err) {
      log.error({ err, agentId }, 'mcp request failed');
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error; see the gateway log' }, id: rpcIdOf(req.body) }));
      } else if (!reply.raw.writableEnded) {
        reply.raw.end();
      }
    }
  });

  const notAllowed = async (_req: unknown, reply: FastifyReply) =>
    rpcError(reply.header('allow', 'POST'), 405, 'Method not allowed: this MCP server is stateless; send JSON-RPC messages with POST /mcp.');
  app.get(MCP_PATH, { schema: { hide: true } }, notAllowed);
  app.delete(MCP_PATH, { schema: { hide: true } }, notAllowed);
};
