import { accumulate, agentsOf, ANALYTICS_PROJECTION, namedDecisions, ROLLUP_EVENT_TYPES } from '@farmbrain/analytics';
import type { EventLimits, EventType, FarmEvent } from '@farmbrain/contracts';
import type { PoolClient } from '@farmbrain/platform';
import type { Projection, SeqEvent } from '@farmbrain/projection';
import { loadKnown, writeAccumulated } from './rollupStore.js';

export interface AnalyticsProjectionDeps {
  /** Projects alert_changed events into the alerts table (and the delivery outbox), in the batch's transaction. */
  applyAlerts(tx: PoolClient, events: readonly SeqEvent[], partition: number): Promise<unknown>;
  limits?: EventLimits;
}

/** The event types analytics.v1 applies; the others pass by (the checkpoint moves past them). */
export const ANALYTICS_HANDLES: ReadonlySet<EventType> = new Set<EventType>([...ROLLUP_EVENT_TYPES, 'alert_changed']);

/**
 * The analytics rollups as a projection of the canonical log (`analytics.v1`, on the kit). No type is keyed by
 * row: the kit claims every event id before `apply` sees it, so each event's increments apply exactly once
 * (a redelivery, a duplicate or a replay after a crash adds nothing). A batch is folded in memory (pure:
 * accumulate) and written as one upsert of increments per table, rows keyed by this partition.
 */
export function analyticsProjection(deps: AnalyticsProjectionDeps): Projection {
  return {
    name: ANALYTICS_PROJECTION,
    handles: ANALYTICS_HANDLES,
    ...(deps.limits ? { limits: deps.limits } : {}),
    apply: async (tx, events, ctx) => {
      const alerts = events.filter((e) => e.type === 'alert_changed');
      const rest: FarmEvent[] = events.filter((e) => e.type !== 'alert_changed');
      if (rest.length > 0) {
        const known = await loadKnown(tx, agentsOf(rest), namedDecisions(rest));
        await writeAccumulated(tx, ctx.partition, accumulate(rest, known));
      }
      if (alerts.length > 0) await deps.applyAlerts(tx, alerts, ctx.partition);
    },
  };
}
