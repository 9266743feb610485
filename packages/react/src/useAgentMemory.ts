import { useCallback, useContext, useEffect, useMemo, useSyncExternalStore } from 'react';
import type { RecallRequest, RecallResponse } from '@farmbrain/contracts/browser';
import { DEFAULT_LIMITS, type AgentMemoryClient } from './AgentMemoryClient.js';
import { AgentMemoryContext } from './agentMemoryContext.js';
import type { AgentMemoryState, AgentReadLimits, RememberInput } from './types.js';

export interface AgentMemory extends AgentMemoryState {
  /** POST /v1/agents/:agentId/recall (needs the gateway; rejects with a GatewayError otherwise). */
  recall(req: string | RecallRequest): Promise<RecallResponse>;
  /** Stores a memory (queued while the gateway does not answer; see AgentMemoryClient.remember). */
  remember(input: RememberInput): Promise<{ eventId: string; memoryId: string; queued: boolean }>;
  /** Reads the agent again. */
  refresh(): Promise<void>;
}

/** The client of the nearest AgentMemoryProvider. */
export function useAgentMemoryClient(): AgentMemoryClient {
  const client = useContext(AgentMemoryContext);
  if (!client) throw new Error('useAgentMemory needs an <AgentMemoryProvider> above it in the tree');
  return client;
}

/**
 * An agent's memory (state, memories, recent decisions, pending writes) from the provider's
 * client: read on mount and when the agent or the page sizes change, re-rendered on every change.
 */
export function useAgentMemory(agentId: string, opts: AgentReadLimits = {}): AgentMemory {
  const client = useAgentMemoryClient();
  const memories = opts.memories ?? DEFAULT_LIMITS.memories;
  const decisions = opts.decisions ?? DEFAULT_LIMITS.decisions;
  const subscribe = useCallback((onChange: () => void) => client.subscribe(agentId, onChange), [client, agentId]);
  const snapshot = useCallback(() => client.getSnapshot(agentId), [client, agentId]);
  const state = useSyncExternalStore(subscribe, snapshot, snapshot);
  useEffect(() => {
    void client.refresh(agentId, { memories, decisions });
  }, [client, agentId, memories, decisions]);
  const recall = useCallback((req: string | RecallRequest) => client.recall(agentId, req), [client, agentId]);
  const remember = useCallback((input: RememberInput) => client.remember(agentId, input), [client, agentId]);
  const refresh = useCallback(() => client.refresh(agentId), [client, agentId]);
  return useMemo(() => ({ ...state, recall, remember, refresh }), [state, recall, remember, refresh]);
}
