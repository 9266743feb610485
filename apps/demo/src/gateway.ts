/** The gateway's plain HTTP reads the fleet makes besides the SDK's (GatewayHttp over fetch). */
import { FarmbrainError } from '@farmbrain/contracts';
import type { GatewayHttp, OpenPosition } from './ports.js';
import { RISK_DESK_ID } from './roster.js';

/** How long one gateway read may take before the agent decides without it. */
export const READ_TIMEOUT_MS = 5000;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function toPosition(v: unknown): OpenPosition | undefined {
  if (!isObject(v) || typeof v.symbol !== 'string' || typeof v.qty !== 'number' || typeof v.avgPrice !== 'number') return undefined;
  const p: OpenPosition = { symbol: v.symbol, qty: v.qty, avgPrice: v.avgPrice };
  if (typeof v.fees === 'number') p.fees = v.fees;
  if (Array.isArray(v.decisionIds)) p.decisionIds = v.decisionIds.filter((x): x is string => typeof x === 'string');
  return p;
}

/** The gateway at `base` (no trailing slash), each request bounded by timeoutMs. */
export function httpGateway(base: string, timeoutMs = READ_TIMEOUT_MS): GatewayHttp {
  return {
    async lastSession() {
      try {
        const res = await fetch(`${base}/v1/agents/${RISK_DESK_ID}`, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return undefined;
        const body: unknown = await res.json();
        const last = isObject(body) && isObject(body.config) ? body.config.session : undefined;
        return typeof last === 'number' && Number.isInteger(last) && last >= 1 ? last : undefined;
      } catch {
        return undefined;
      }
    },
    async openPositions(agentId) {
      const res = await fetch(`${base}/v1/agents/${agentId}/positions?status=open&limit=50`, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 404) {
        // An agent new to this namespace is unknown until its first event is applied: it has nothing left open.
        const body: unknown = await res.json().catch(() => ({}));
        if (isObject(body) && isObject(body.error) && body.error.code === 'UNKNOWN_AGENT') return [];
      }
      if (!res.ok) throw new FarmbrainError('GATEWAY_ERROR', `GET positions answered ${res.status}`);
      const body: unknown = await res.json();
      const items = isObject(body) && Array.isArray(body.items) ? body.items : [];
      return items.map(toPosition).filter((p): p is OpenPosition => p !== undefined);
    },
  };
}
