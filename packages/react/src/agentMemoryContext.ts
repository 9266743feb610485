import { createContext } from 'react';
import type { AgentMemoryClient } from './AgentMemoryClient.js';

/** The client AgentMemoryProvider gives to useAgentMemory below it. */
export const AgentMemoryContext = createContext<AgentMemoryClient | null>(null);
