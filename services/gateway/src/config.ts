import type { EventLimits } from '@farmbrain/contracts';
import { loadCommonConfig, loadEventLimits, readers, type CommonConfig, type Env } from '@farmbrain/platform';

export interface GatewayConfig extends CommonConfig {
  host: string;
  port: number;
  /** Most events one POST /v1/events may carry. */
  maxEventsPerRequest: number;
  bodyLimitBytes: number;
  limits: EventLimits;
}

export function loadConfig(env: Env): GatewayConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    host: r.str('FB_GATEWAY_HOST', '127.0.0.1'),
    port: r.int('FB_GATEWAY_PORT', 8080, 0, 65535),
    maxEventsPerRequest: r.int('FB_GATEWAY_MAX_EVENTS', 1000, 1, 100_000),
    bodyLimitBytes: r.int('FB_GATEWAY_BODY_LIMIT', 8 * 1024 * 1024, 1024),
    limits: loadEventLimits(env),
  };
}
