/** The memory API's wire shapes live in contracts (shared with the SDK); this adds what the gateway implements. */
import type {
  ConsolidateRequest,
  ConsolidateResponse,
  EraseBody,
  EraseResult,
  ErasureView,
  ConsistencyToken,
  DecisionContext,
  MemoryPatch,
  RecallRequest,
  RecallResponse,
  RememberInput,
  SimilarDecisionsRequest,
  SimilarDecisionsResponse,
  WriteResult,
} from '@farmbrain/contracts';

export type {
  ConsistencyToken,
  RememberInput,
  MemoryPatch,
  WriteResult,
  RecallFilters,
  RecallRequest,
  ScoreParts,
  MemoryView,
  RecallHit,
  RecallResponse,
  SimilarDecisionsRequest,
  DecisionOutcome,
  SimilarDecision,
  OutcomeStats,
  SimilarDecisionsResponse,
  VersionedMemory,
  RecallRecord,
  DecisionContext,
  MemoryConsolidation,
  ConsolidateRequest,
  ConsolidationGroupView,
  ConsolidateResponse,
  EraseBody,
  EraseResult,
  ErasureView,
} from '@farmbrain/contracts';

/** What the HTTP routes and the MCP tools call. */
export interface MemoryApi {
  remember(agentId: string, input: RememberInput): Promise<WriteResult>;
  /** `consistency`: read-your-writes, the update waits until that write is applied (as a read does). */
  update(agentId: string, memoryId: string, patch: MemoryPatch & { consistency?: ConsistencyToken }): Promise<WriteResult>;
  forget(agentId: string, memoryId: string, reason?: string, consistency?: ConsistencyToken): Promise<WriteResult>;
  recall(agentId: string, req: RecallRequest): Promise<RecallResponse>;
  similarDecisions(agentId: string, req: SimilarDecisionsRequest): Promise<SimilarDecisionsResponse>;
  decisionContext(agentId: string, decisionId: string, consistency?: ConsistencyToken): Promise<DecisionContext>;
  // Operator actions (REST only, not MCP tools).
  /** Near-duplicate memories of the agent merged into canonical ones (or, dryRun, only planned). */
  consolidate(agentId: string, req: ConsolidateRequest): Promise<ConsolidateResponse>;
  /** Erases the memory (and what was derived from it) from every store; logged. */
  erase(agentId: string, memoryId: string, body: EraseBody): Promise<EraseResult>;
  /** The erasure log, newest first. */
  erasures(q: { agentId?: string; limit?: number; cursor?: string }): Promise<{ items: ErasureView[]; nextCursor: string | null }>;
}
