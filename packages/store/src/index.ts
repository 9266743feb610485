export {
  agentSummary,
  decisionOut,
  tradeOut,
  positionOut,
  checkpointOut,
  memoryCore,
  memoryOut,
  MEMORY_COLUMNS,
} from './rows.js';
export type { AgentRow, AgentSummary, DecisionItem, TradeItem, PositionItem, CheckpointItem, MemoryCore, MemoryItem } from './rows.js';
export {
  bySymbol,
  readSummaries,
  readNewestDecisionsAmong,
  readOpenPositions,
  readMemoriesById,
  readRecentMemories,
  readRecentDecisions,
  readAgentViews,
} from './agentView.js';
export type { AgentView, ViewLimits, Queryable } from './agentView.js';
export { HotView, hotKeys, hotKeyPatterns, memdocKey } from './hotView.js';
export type { HotChange } from './hotView.js';
export { MIGRATIONS_DIR } from './migrations.js';
