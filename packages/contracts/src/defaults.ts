import type { EventPayloads, EventType } from './events.js';

/**
 * The value of every optional payload field when a producer leaves it out. The
 * SDK and the gateway's HTTP write path both fill events from here, so an event
 * means the same whichever way it was written.
 */
export const PAYLOAD_DEFAULTS = {
  agent_registered: { team: '', strategy: '', config: {} },
  decision_made: { size: 0, rationale: '', situation: [], memoryIds: [], recallIds: [] },
  trade_executed: { fees: 0, decisionId: '' },
  position_closed: { decisionIds: [], exitPrice: 0 },
  checkpoint_saved: {},
  memory_stored: { tags: [], importance: 0.5, embedding: [], scope: 'agent', scopeId: '', expiresAt: 0, sourceEventIds: [], situation: [], embeddingModel: '' },
  memory_updated: { tags: [], replaceTags: false, embedding: [], embeddingModel: '' },
  memory_forgotten: { reason: '' },
  agent_state_changed: { reason: '' },
  memory_recalled: { queryText: '', queryVector: [], filters: {}, hits: [], embeddingModel: '', latencyMs: 0 },
  records_moved: { dayMs: 0, recordIds: [], policy: '', reason: '' },
  legal_hold_changed: { recordIds: [], reason: '', operator: '' },
  memories_consolidated: { representativeId: '', method: 'representative', reason: '' },
  agent_restored: { reason: '', operator: '' },
  memory_erased: { reason: '', operator: '' },
  alert_changed: { message: '' },
} as const satisfies { [T in EventType]: Partial<EventPayloads[T]> };

type Defaulted<T extends EventType> = keyof (typeof PAYLOAD_DEFAULTS)[T] & keyof EventPayloads[T];

/** What a producer must give for a type: the payload with its defaulted fields optional. */
export type PayloadInput<T extends EventType> = Omit<EventPayloads[T], Defaulted<T>> & Partial<Pick<EventPayloads[T], Defaulted<T>>>;

/** The full payload: defaults first, then what the producer gave (fresh arrays, never shared). */
export function withDefaults<T extends EventType>(type: T, data: PayloadInput<T> | Record<string, unknown>): EventPayloads[T] {
  const d = structuredClone(PAYLOAD_DEFAULTS[type]) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) if (v !== undefined) d[k] = v;
  return d as unknown as EventPayloads[T];
}
