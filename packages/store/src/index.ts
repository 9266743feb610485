export {
  agentSummary,
  decisionOut,
  tradeOut,
  positionOut,
  checkpointOut,
  memoryCore,
  memoryOut,
  recallOut,
  MEMORY_COLUMNS,
} from './rows.js';
export type { AgentRow, AgentSummary, DecisionItem, TradeItem, PositionItem, CheckpointItem, MemoryCore, MemoryItem, RecallItem } from './rows.js';
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
export { HotView, hotKeys, hotKeyPatterns, memdocKey, ERASED_MEMDOC, ERASED_MEMDOC_TTL_S } from './hotView.js';
export type { HotChange } from './hotView.js';
export { MIGRATIONS_DIR } from './migrations.js';
export {
  BLOCK_KINDS,
  BLOCK_CODEC,
  BLOCK_COLUMNS,
  BLOCK_BROTLI,
  WARM_TABLE,
  BlockCodecError,
  compareRows,
  encodeBlock,
  decodeBlock,
  sha256Hex,
} from './coldBlock.js';
export type { BlockKind, BlockRow, EncodedBlock } from './coldBlock.js';
export { evolvePositions } from './positions.js';
export type { PositionEvent, PositionRow } from './positions.js';
