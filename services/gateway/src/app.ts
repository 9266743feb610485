import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger, Readiness } from '@farmbrain/platform';
import { clientError, errorHandler, frameworkErrors, notFoundHandler } from './http/errorHandler.js';
import { rejectNonFinite } from './http/validation.js';
import type { MemoryApi } from './memory/types.js';
import { agentRoutes, type AgentReads } from './routes/agents.js';
import { analyticsRoutes, type AnalyticsRoutesOptions } from './routes/analytics.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { deadLetterRoutes, type DeadLetters } from './routes/deadLetters.js';
import { eventRoutes, type EventsIn } from './routes/events.js';
import { feedRoutes, type LiveFeed } from './routes/feed.js';
import { lifecycleRoutes, type RecordReads } from './routes/lifecycle.js';
import { optimizeRoutes, type LifecycleOps } from './routes/optimize.js';
import { mcpRoutes } from './routes/mcp.js';
import { memoryRoutes } from './routes/memory.js';
import { opsRoutes } from './routes/ops.js';
import { timeTravelRoutes, type TimeTravelReads } from './routes/timeTravel.js';

/**
 * What the gateway serves from. `reads`, `memory` and `deadLetters` may be proxies that resolve to the live
 * projection version's stores at each property access (main.ts, live/following.ts): the route plugins call
 * their methods at request time and never keep a method or object of them.
 */
export interface AppDeps {
  reads: AgentReads & RecordReads & TimeTravelReads;
  writer: EventsIn;
  /** The deployment's partition count (consistency tokens of the writes the gateway makes itself). */
  partitions: number;
  memory: MemoryApi;
  /** What is up and what is degraded (NATS, Redis, Postgres, the memory index): kept by a background monitor, read at once. */
  readiness: () => Readiness;
  deadLetters: DeadLetters;
  /** Tier metrics and optimize runs (GET /v1/lifecycle/metrics, POST /v1/optimize); those routes are absent without it. */
  lifecycle?: LifecycleOps;
  /** The analytics reads (GET /v1/analytics/*, /v1/alerts) and memory health; those routes are absent without it. */
  analytics?: AnalyticsRoutesOptions;
  /** The live feed (GET /v1/feed); absent without it. */
  feed?: LiveFeed;
  /** The built dashboard served at `/` (FB_DASHBOARD_DIR); not served without it. */
  dashboardDir?: string;
  log: Logger;
  maxEventsPerRequest: number;
  bodyLimitBytes: number;
}

/**
 * Builds the gateway (no listen): health, OpenAPI, reads across tiers, the HTTP write path, the memory API,
 * dead letters, MCP, analytics, the live feed and the dashboard. Each area is an encapsulated plugin under
 * routes/; what applies to every route (error and not-found handlers, the non-finite check, OpenAPI
 * collection) is set here, on the root, before the plugins are registered, so each inherits it.
 */
export async function buildApp(d: AppDeps) {
  const app = Fastify({
    loggerInstance: d.log,
    bodyLimit: d.bodyLimitBytes,
    disableRequestLogging: true,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    // A URL fastify cannot route (bad percent-encoding, ...): the same error shape as everything else.
    frameworkErrors,
    clientErrorHandler: clientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      info: { title: 'farmbrain gateway', version: '0.1.0', description: 'Memory for fleets of AI trading agents.' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler(errorHandler(d.bodyLimitBytes));
  app.setNotFoundHandler(notFoundHandler);
  // After schema validation, on every route: no Infinity/NaN gets through coercion (see http/validation.ts).
  app.addHook('preHandler', rejectNonFinite);

  // Registration order is the order of the OpenAPI document's paths.
  await app.register(opsRoutes, { readiness: d.readiness });
  await app.register(agentRoutes, { reads: d.reads });
  await app.register(timeTravelRoutes, { reads: d.reads, writer: d.writer, partitions: d.partitions });
  await app.register(lifecycleRoutes, { reads: d.reads });
  if (d.lifecycle) await app.register(optimizeRoutes, { ops: d.lifecycle });
  await app.register(eventRoutes, { writer: d.writer, maxEventsPerRequest: d.maxEventsPerRequest });
  await app.register(memoryRoutes, { memory: d.memory });
  await app.register(deadLetterRoutes, { deadLetters: d.deadLetters });
  await app.register(mcpRoutes, { memory: d.memory, log: d.log });
  if (d.analytics) await app.register(analyticsRoutes, d.analytics);
  if (d.feed) await app.register(feedRoutes, { feed: d.feed });
  // Last: its catch-all GET answers only what no other route does (and leaves /v1, /docs, /mcp to the JSON 404).
  if (d.dashboardDir !== undefined) await app.register(dashboardRoutes, { dir: d.dashboardDir });

  return app;
}

export type GatewayApp = Awaited<ReturnType<typeof buildApp>>;
