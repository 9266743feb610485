export { VectorIndex, DEFAULT_TUNING, dot } from './vectorIndex.js';
export type { MemoryMeta, VectorFilter, VectorHit, IndexTuning } from './vectorIndex.js';
export { IndexSync, ConsistencyTimeoutError } from './indexSync.js';
export { orQuery, allWords } from './textQuery.js';
export { planConsolidation, tagOverlap, DEFAULT_CONSOLIDATION } from './consolidation.js';
export type { ConsolidationCandidate, ConsolidationGroup, ConsolidationOptions } from './consolidation.js';
export { consolidateAgent } from './consolidationRun.js';
export type { ConsolidationRunDeps } from './consolidationRun.js';
