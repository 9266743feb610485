/**
 * The memory API's wire shapes: what the gateway's HTTP routes and MCP tools
 * accept and answer, and what the SDK sends and reads. One definition for both
 * sides. JSON on the wire; times are epoch milliseconds.
 */
import type { MemoryKind, MemoryTier, Scope } from './events.js';

/** Opaque. Pass it back as `consistency` (request body, or query string on GET/DELETE) to read your own write. */
export type ConsistencyToken = string;

export interface RememberInput {
  kind: MemoryKind;
  text: string;
  tags?: string[];
  /** 0..1, default 0.5. */
  importance?: number;
  /** Your own embedding; leave out to have farmbrain embed the text. */
  embedding?: number[];
  /** The model that made `embedding` (recorded; queries only compare like with like). */
  embeddingModel?: string;
  situation?: number[];
  /** Default 'agent' (private). 'team' needs scopeId = the team. */
  scope?: Scope;
  scopeId?: string;
  /** Epoch ms or ISO time; absent = never expires. */
  expiresAt?: number | string;
  sourceEventIds?: string[];
  /** Client-chosen id (idempotent retries); generated when absent. */
  memoryId?: string;
}

export interface MemoryPatch {
  text?: string;
  tags?: string[];
  /** true: `tags` replaces the tags; false (default): adds to them. */
  replaceTags?: boolean;
  importance?: number;
  embedding?: number[];
  embeddingModel?: string;
  /** Epoch ms / ISO time; 0 or null clears the expiry. */
  expiresAt?: number | string | null;
}

export interface WriteResult {
  memoryId: string;
  eventId: string;
  consistencyToken: ConsistencyToken;
}

export interface RecallFilters {
  /** Default: all the agent can read ('agent', 'team', 'fleet'). */
  scopes?: Scope[];
  kinds?: MemoryKind[];
  /** Memory must carry every one of these tags. */
  tags?: string[];
  /** Memory must carry at least one of these tags. */
  anyTags?: string[];
  /** Created at or after / before, epoch ms or ISO. */
  since?: number | string;
  until?: number | string;
  minImportance?: number;
}

export interface RecallRequest extends RecallFilters {
  /** Text to search for (full text, and vector search via the configured embedder). */
  query?: string;
  /** A query vector of your own; must match the dimensions of memories embedded by `embeddingModel`. */
  vector?: number[];
  embeddingModel?: string;
  /** 1..100, default 10. */
  k?: number;
  /** Weights of the fused rankings (reciprocal-rank fusion). Defaults: vector 1, text 1, recency 0.3, importance 0.3. */
  weights?: Partial<Record<'vector' | 'text' | 'recency' | 'importance', number>>;
  /** Read-your-writes: wait until this write is applied. */
  consistency?: ConsistencyToken;
  /** Correlates this recall with the decision that follows (decision provenance). */
  correlationId?: string;
}

export interface ScoreParts {
  /** Cosine similarity to the query vector, and its rank among candidates (1 = best); null when not a vector candidate. */
  vector: { similarity: number; rank: number } | null;
  /** Postgres ts_rank_cd, and its rank; null when the text query did not match. */
  text: { relevance: number; rank: number } | null;
  recency: { ageMs: number; rank: number };
  importance: { value: number; rank: number };
  /**
   * Present when the lifecycle policy's memory decay is on: the fused score was
   * multiplied by `factor` = max(minFactor, 0.5 ^ (ageDays / halfLifeDays)),
   * the age counted since the memory was last recalled (else created).
   */
  decay?: { halfLifeDays: number; minFactor: number; ageDays: number; since: 'lastRecalled' | 'created'; factor: number };
}

/** What a canonical memory (made by consolidation) stands for. */
export interface MemoryConsolidation {
  /** How many original memories it stands for. */
  evidence: number;
  /** The memories it merged (earlier canonical memories included); they stay readable by id, out of recall. */
  mergedIds: string[];
  /** Creation times of the first and last original, epoch ms. */
  spanFrom: number;
  spanTo: number;
  /** `representative` (the most representative original's text) or `summary:<model>`. */
  method: string;
  /** The original whose text and embedding stand for the group ('' for a summary). */
  representativeId: string;
}

export interface MemoryView {
  memoryId: string;
  agentId: string;
  kind: MemoryKind;
  text: string;
  tags: string[];
  importance: number;
  scope: Scope;
  scopeId: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
  embeddingModel: string;
  /** Present on a canonical memory made by consolidation. */
  consolidation?: MemoryConsolidation;
}

export interface RecallHit {
  memory: MemoryView;
  /** Fused score: sum over rankings of weight / (60 + rank). */
  score: number;
  parts: ScoreParts;
  /** Where the memory's content was served from. */
  tier: MemoryTier;
}

export interface RecallResponse {
  /** Event id of the memory_recalled event that records this recall; cite it in recordDecision({ recallIds }). */
  recallId: string;
  hits: RecallHit[];
  /** Model the query was embedded with ('' when there was no vector search). */
  embeddingModel: string;
  tookMs: number;
  /** Present when part of the recall was skipped (e.g. the embeddings endpoint failed: full text only). */
  warnings?: string[];
}

export interface SimilarDecisionsRequest {
  /** The current market situation, same features (and order) as recorded on decisions. */
  situation: number[];
  symbol?: string;
  /** 1..200, default 10. */
  k?: number;
  /** Include the decisions of the agent's team(s). Default false. */
  includeTeam?: boolean;
  /** Include decisions whose position is still open (no realized outcome). Default false. */
  includeOpen?: boolean;
  /** Only decisions at or after / before. */
  since?: number | string;
  until?: number | string;
  consistency?: ConsistencyToken;
}

export interface DecisionOutcome {
  status: 'closed' | 'open';
  realizedPnl: number | null;
  win: boolean | null;
  holdingMs: number | null;
  positionIds: string[];
}

export interface SimilarDecision {
  decisionId: string;
  agentId: string;
  symbol: string;
  action: string;
  size: number;
  confidence: number;
  rationale: string;
  occurredAt: number;
  situation: number[];
  /** Euclidean distance between situation vectors. */
  distance: number;
  outcome: DecisionOutcome;
}

export interface OutcomeStats {
  /** Neighbours with a realized outcome. */
  n: number;
  wins: number;
  losses: number;
  winRate: number | null;
  meanPnl: number | null;
  /** Sample standard deviation of P&L. */
  stdevPnl: number | null;
  medianPnl: number | null;
  minPnl: number | null;
  maxPnl: number | null;
  meanHoldingMs: number | null;
}

export interface SimilarDecisionsResponse {
  neighbours: SimilarDecision[];
  stats: OutcomeStats;
  /** Writes the request's consistency token names that ingest rejected, and why. */
  warnings?: string[];
}

export interface VersionedMemory {
  memoryId: string;
  version: number;
  /** The memory as it was at that version (text, tags, importance, ...). */
  memory: Record<string, unknown>;
  /** Current version now, and whether it changed or was forgotten since. */
  currentVersion: number | null;
  changedSince: boolean;
  forgottenSince: boolean;
}

export interface RecallRecord {
  recallId: string;
  occurredAt: number;
  query: string;
  filters: Record<string, unknown>;
  k: number;
  hits: { memoryId: string; version: number; score: number; tier: MemoryTier; memory: Record<string, unknown> | null }[];
}

export interface DecisionContext {
  decision: { decisionId: string; agentId: string; symbol: string; action: string; occurredAt: number; rationale: string; memoryIds: string[]; recallIds: string[]; correlationId: string };
  /** Recalls the decision cites, those sharing its correlation id, or else the agent's recalls since its previous decision. */
  recalls: RecallRecord[];
  /** Memories the decision cites, as they were when it was made. */
  citedMemories: VersionedMemory[];
  /** Writes the request's consistency token names that ingest rejected, and why. */
  warnings?: string[];
}


/**
 * What gets embedded for a memory: its text, then its tags (they carry symbols
 * and regimes). Tiering embeds memories with it; a benchmark or a re-embedding
 * job must use it too, or its vectors would not compare with the stored ones.
 */
export const memoryDocument = (text: string, tags: readonly string[]): string => (tags.length > 0 ? `${text}\n${tags.join(' ')}` : text);

/** POST /v1/agents/:agentId/memories/consolidate */
export interface ConsolidateRequest {
  /** Plan only: nothing is published. Default false. */
  dryRun?: boolean;
  /** Cosine similarity at or above which two memories are near-duplicates (0..1). Default 0.9. */
  threshold?: number;
  /** Least Jaccard overlap of their tags (0..1). Default 0.75. */
  minTagOverlap?: number;
  /** Only these kinds. Default: every kind. */
  kinds?: MemoryKind[];
  /** Read-your-writes: plan once this write is applied (memories just stored are considered). */
  consistency?: ConsistencyToken;
}

/** One planned (or published) merge. */
export interface ConsolidationGroupView {
  canonicalMemoryId: string;
  kind: MemoryKind;
  ownerKey: string;
  mergedIds: string[];
  representativeId: string;
  /** The canonical text: the representative's, or the summary (a dry run does not call the summarizer). */
  text: string;
  method: string;
  tags: string[];
  importance: number;
  evidence: number;
  spanFrom: number;
  spanTo: number;
  /** Lowest similarity between the representative and a member. */
  minSimilarity: number;
}

export interface ConsolidateResponse {
  agentId: string;
  dryRun: boolean;
  /** Live memories of the agent with an embedding that were considered. */
  candidates: number;
  groups: ConsolidationGroupView[];
  /** How many memories leave recall: the members of every group, less the canonical memory each adds. */
  removedFromRecall: number;
  threshold: number;
  minTagOverlap: number;
  /** When published: pass it as `consistency` to a read to see the consolidation applied. */
  consistencyToken?: ConsistencyToken;
  warnings?: string[];
}

/** POST /v1/agents/:agentId/memories/:memoryId/erase (an operator action). */
export interface EraseBody {
  reason: string;
  /** Who erases: kept in the erasure log. */
  operator: string;
}

export interface EraseResult {
  memoryId: string;
  /** The memories erased: this one, then the consolidated memories derived from it (their content came from it). */
  erased: { memoryId: string; eventId: string; keyDestroyed: boolean }[];
  /** Messages still holding the content in the clear that were deleted from the ingress and dead-letter streams (sealing happens after them). */
  scrubbedMessages: number;
  consistencyToken: ConsistencyToken;
}

/** One row of the erasure log (GET /v1/erasures): who erased what, when and why; never the content. */
export interface ErasureView {
  eventId: string;
  memoryId: string;
  agentId: string;
  operator: string;
  reason: string;
  erasedAt: number;
  /** Whether content was left to remove (false: it was erased before). */
  scrubbed: boolean;
  /** Versions of the memory whose snapshot was scrubbed. */
  versions: number;
  /** Originals an erased canonical memory returned to recall. */
  released: string[];
}
