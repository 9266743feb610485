import { useEffect, useState, type ReactNode } from 'react';
import { AgentMemoryClient, type AgentMemoryClientOptions } from './AgentMemoryClient.js';
import { AgentMemoryContext } from './agentMemoryContext.js';
import type { StorageLike } from './memoryStorage.js';

export interface AgentMemoryProviderProps extends Omit<AgentMemoryClientOptions, 'storage'> {
  /** window.localStorage (the default when the browser allows it); null: memory only. */
  storage?: StorageLike | null;
  /** A client of your own (then the other options are ignored, and the provider does not close it). */
  client?: AgentMemoryClient;
  children?: ReactNode;
}

/** The page's localStorage, when there is one and it may be used. */
function pageStorage(): StorageLike | undefined {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage ?? undefined;
  } catch {
    return undefined; // a SecurityError: storage disabled for this page
  }
}

/**
 * One AgentMemoryClient for the components below (useAgentMemory). The client is made once, at
 * the first render; later changes of the options are not applied (remount with a `key` to change
 * them).
 */
export function AgentMemoryProvider({ client, storage, children, ...options }: AgentMemoryProviderProps) {
  const [own] = useState(() => client ?? new AgentMemoryClient({ ...options, storage: storage === null ? undefined : storage ?? pageStorage() }));
  useEffect(() => {
    if (own === client) return undefined;
    own.start();
    return () => own.close();
  }, [own, client]);
  return <AgentMemoryContext.Provider value={own}>{children}</AgentMemoryContext.Provider>;
}
