export {
  DAY_KINDS,
  DEFAULT_LIFECYCLE_POLICY,
  DEFAULT_LIFECYCLE_INTERVAL_MS,
  parseLifecyclePolicy,
  checkLifecyclePolicy,
  loadLifecyclePolicy,
  loadLifecycleConfig,
} from './policy.js';
export type { AgePolicy, CheckpointPolicy, DecayPolicy, MemoryPolicy, LifecyclePolicy, LifecycleConfig, DayKind } from './policy.js';
export { STORED_TIERS, DEFAULT_COMPRESSION_RATIO, emptyInventory } from './inventory.js';
export type { StoredTier, DayCell, CheckpointEntry, MemoryUsage, LegalHold, Inventory } from './inventory.js';
export { planMoves, applyPlan, utcDay, dayOlderThan, colder, DAY_MS, MAX_IDS_PER_MOVE } from './planner.js';
export type { Plan, PlanOptions, PlannedMove, HeldBack, TierBytes } from './planner.js';
export { readInventory, cutoffOf, uuidV7Ms } from './readInventory.js';
export type { ReadInventoryOptions } from './readInventory.js';
export { publishMoves, moveEvents } from './publish.js';
export type { PublishedMove, PublishResult, PublishOptions } from './publish.js';
export { promotionVerdict, demotionVerdict, decayPart, decayed } from './memoryRules.js';
export type { PromotionVerdict, DecayPart } from './memoryRules.js';
export { readTierMetrics, METRIC_TIERS } from './tierMetrics.js';
export type { TierMetrics, TierFigure, MetricTier } from './tierMetrics.js';
export { nextMove } from './nextMove.js';
export type { NextMoveAnswer, RecordPlace } from './nextMove.js';
export { DEFAULT_BLOCK_ROWS, COMPACTION_POLICY, planCompaction, readColdBlocks, measureCompaction, compactionDayKey } from './compaction.js';
export type { ColdBlockInfo, CompactionDay, CompactionMeasure, CompactionPlan } from './compaction.js';
export { waitApplied, refusedMoves, MovesNotAppliedError } from './applied.js';
export { planRedisTrim, applyRedisTrim, hotBytes, waitHotThrough } from './redisTrim.js';
export type { RedisTrimPlan, TrimKey, TrimReason } from './redisTrim.js';
export { OPTIMIZE_STEPS, OPTIMIZE_TIERS, planOptimize, previewOptimize, runOptimize } from './optimize.js';
export type { ConsolidationHook, OptimizeDeps, OptimizeOptions, OptimizePlan, OptimizeReport, OptimizeStepName, OptimizeStepReport, OptimizeTier, StepStatus, TableFigure } from './optimize.js';
