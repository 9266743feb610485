/**
 * What the gateway answers, as schemas: the OpenAPI document shows them, and
 * fastify serializes each 2xx body through them (a property left out here is
 * left out of the response, so every field the readers produce is listed).
 *
 * Listings and the agent state are the row mappers of @farmbrain/store;
 * the memory API shapes are the types of contracts' memoryApi.ts. Times are ISO
 * strings in the listings and epoch ms in the memory API, as the code produces them.
 */
import { Type } from 'typebox';
import { MEMORY_KINDS, MEMORY_TIERS, RECORD_KINDS, SCOPES, TIERS } from '@farmbrain/contracts';
import { Enum, JsonObject, Nullable, Page } from './schemas.js';

const Str = (description?: string) => Type.String(description ? { description } : {});
const Num = (description?: string) => Type.Number(description ? { description } : {});
const Int = (description?: string) => Type.Integer(description ? { description } : {});
const Strs = (description?: string) => Type.Array(Type.String(), description ? { description } : {});
const IsoTime = (description = 'ISO 8601') => Type.String({ description });
const Ms = (description = 'epoch milliseconds') => Type.Number({ description });

// ---- operations ----

export const Health = Type.Object({ status: Enum(['ok'] as const) });

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')], { description: "'ready' when every check is true, else 'degraded'" }),
  checks: Type.Object({
    nats: Type.Optional(Type.Boolean()),
    postgres: Type.Optional(Type.Boolean({ description: 'Postgres answers' })),
    redis: Type.Optional(Type.Boolean()),
    memoryIndex: Type.Optional(Type.Boolean({ description: 'the vector index has loaded' })),
  }, { additionalProperties: Type.Boolean() }),
  serving: Type.Optional(Type.Object({
    tiering: Type.String({ description: 'the projection version reads come from (changed by `farmbrain switch`, without a restart)' }),
  })),
});

// ---- reads (read/readStore.ts) ----

export const AgentSummaryProps = {
  agentId: Str(),
  name: Str(),
  team: Str(),
  strategy: Str(),
  status: Str('active, paused, stopped or error'),
  config: JsonObject('the config of its registration or last state change'),
  registeredAt: Nullable(IsoTime()),
  firstSeenAt: Nullable(IsoTime()),
  lastEventAt: Nullable(IsoTime()),
};
export const AgentSummary = Type.Object(AgentSummaryProps);

/** Where a listed record was read: warm rows, or a cold or archive block (see the lifecycle in the gateway README). */
const ListedTier = Enum(['warm', 'cold', 'archive'] as const, { description: 'where the record was read: warm (Postgres rows), cold (a compressed block in Postgres) or archive (a block in the archive store)' });

const DecisionProps = {
  decisionId: Str('event id of the decision_made event'),
  agentId: Str(),
  occurredAt: IsoTime(),
  symbol: Str(),
  action: Str('buy, sell, hold or close'),
  size: Num(),
  confidence: Num('0..1'),
  rationale: Str(),
  situation: Type.Array(Type.Number(), { description: 'market situation features' }),
  memoryIds: Strs('memories the decision cites'),
  recallIds: Strs('recalls the decision consulted'),
  producerSeq: Int(),
  correlationId: Str(),
};
export const Decision = Type.Object(DecisionProps);

const TradeProps = {
  tradeId: Str('event id of the trade_executed event'),
  agentId: Str(),
  occurredAt: IsoTime(),
  orderId: Str(),
  symbol: Str(),
  side: Str('buy or sell'),
  qty: Num(),
  price: Num(),
  fees: Num(),
  decisionId: Nullable(Str()),
  producerSeq: Int(),
};
export const Trade = Type.Object(TradeProps);

export const Position = Type.Object({
  positionId: Str('event id of the opening trade'),
  agentId: Str(),
  symbol: Str(),
  status: Enum(['open', 'closed'] as const),
  qty: Num('signed: > 0 long, < 0 short'),
  avgPrice: Num(),
  fees: Num(),
  openedAt: IsoTime(),
  closedAt: Nullable(IsoTime()),
  realizedPnl: Nullable(Num()),
  exitPrice: Nullable(Num()),
  decisionIds: Strs(),
  tradeCount: Int(),
  holdingMs: Nullable(Num('closedAt - openedAt, ms')),
});

export const CheckpointProps = {
  checkpointId: Str('event id of the checkpoint_saved event'),
  agentId: Str(),
  occurredAt: IsoTime(),
  label: Str(),
  sizeBytes: Int(),
  producerSeq: Int(),
};
export const Checkpoint = Type.Object(CheckpointProps);
export const CheckpointWithState = Type.Object({
  ...CheckpointProps,
  state: Str('the state bytes, base64'),
  encoding: Enum(['base64'] as const),
  tier: ListedTier,
});

/** store memoryCore: a memory as its owner's events leave it. */
const MemoryCoreProps = {
  memoryId: Str(),
  agentId: Str(),
  kind: Enum(MEMORY_KINDS),
  text: Str(),
  tags: Strs(),
  importance: Num('0..1'),
  scope: Enum(SCOPES),
  scopeId: Str("the team for scope 'team', else ''"),
  version: Int(),
  embeddingDims: Int(),
  embeddingModel: Str(),
  expiresAt: Nullable(IsoTime()),
  createdAt: IsoTime(),
  updatedAt: IsoTime(),
  forgottenAt: Nullable(IsoTime()),
  sourceEventIds: Strs(),
};
export const MemoryCore = Type.Object(MemoryCoreProps);
/** store memoryOut: the core plus its usage counters (listings only). */
export const Memory = Type.Object({
  ...MemoryCoreProps,
  accessCount: Int('recalls that returned it'),
  lastAccessedAt: Nullable(IsoTime()),
});

export const AgentState = Type.Object({
  ...AgentSummaryProps,
  openPositions: Type.Array(Position),
  recentDecisions: Type.Array(Decision, { description: 'the 10 latest' }),
  recentMemories: Type.Array(MemoryCore, { description: 'the 10 latest live ones (without the usage counters of the listing)' }),
  source: Enum(['hot', 'warm'] as const, { description: 'the tier that answered: hot (Redis) or warm (Postgres)' }),
});

/** read/agentAsOf.ts CurrentCheckpoint: the checkpoint that was (or is) the agent's current one. */
export const CurrentCheckpoint = Type.Object({
  checkpointId: Str('event id of the checkpoint_saved event'),
  label: Str(),
  occurredAt: IsoTime('when it was saved'),
  restored: Nullable(Type.Object({
    at: IsoTime(), operator: Str(), reason: Str(), eventId: Str('the agent_restored event'),
  }, { description: 'set when a restore made it current' })),
});

/** read/agentAsOf.ts: the agent as it stood at a moment. */
export const AgentStateAsOf = Type.Object({
  asOf: IsoTime(),
  state: Type.Object({
    ...AgentSummaryProps,
    openPositions: Type.Array(Position),
    recentDecisions: Type.Array(Decision, { description: 'the 10 latest at that moment' }),
    recentMemories: Type.Array(MemoryCore, { description: 'the 10 latest live ones, at the version they had then' }),
    source: Enum(['history'] as const, { description: 'rebuilt from the stores\' history (every tier)' }),
  }),
  checkpoint: Nullable(CurrentCheckpoint),
  since: Type.Object({
    decisions: Int(), trades: Int(), memoryChanges: Int(),
  }, { description: 'what happened after that checkpoint, up to asOf: what an agent replays after loading it' }),
});

export const Restored = Type.Object({
  eventId: Str('the agent_restored event'),
  checkpointId: Str(),
  consistencyToken: Str('pass as `consistency` to read after the restore'),
});

export const AgentsPage = Page(AgentSummary);
export const DecisionsPage = Page(Type.Object({ ...DecisionProps, tier: ListedTier }));
export const TradesPage = Page(Type.Object({ ...TradeProps, tier: ListedTier }));
export const PositionsPage = Page(Position);
export const CheckpointsPage = Page(Type.Object({ ...CheckpointProps, tier: ListedTier }));

// ---- records across tiers (read/recordReader.ts) ----

export const RecordRead = Type.Object({
  kind: Enum(RECORD_KINDS),
  agentId: Str(),
  tier: ListedTier,
  record: JsonObject('the record as its listing shows it (a checkpoint with its state, base64; a recall with its hits; a memory with its usage counters)'),
});

const MoveOut = Type.Object({
  moveId: Str('event id of the records_moved event'),
  fromTier: Enum(TIERS),
  toTier: Enum(TIERS),
  policy: Str('the lifecycle policy that moved it'),
  reason: Str('why, with the values that decided it'),
  at: IsoTime('when the move happened'),
  day: Nullable(Str('the UTC day (YYYY-MM-DD) the move took, or null when it named records by id')),
});

export const Explain = Type.Object({
  recordId: Str(),
  kind: Enum(RECORD_KINDS),
  agentId: Str(),
  tier: Enum(['hot', 'warm', 'cold', 'archive', 'deleted'] as const, { description: 'where the record is now; hot: a memory promoted while recalled often; deleted: retention removed it (its id remains)' }),
  occurredAt: Nullable(IsoTime('when the record occurred; null once deleted, or when the archive store did not answer')),
  since: Nullable(IsoTime('since when it is in this tier')),
  history: Type.Array(MoveOut, { description: 'the moves that took it where it is, oldest first' }),
  legalHold: Nullable(Type.Object({
    scope: Enum(['agent', 'record'] as const, { description: 'the whole agent is held, or this record' }),
    reason: Str(),
    operator: Str(),
    since: IsoTime(),
  }, { description: 'a held record is never deleted by retention' })),
  next: Type.Optional(Nullable(Type.Object({
    toTier: Enum(TIERS),
    policy: Str(),
    at: Nullable(IsoTime('when it becomes due; null: due now')),
    reason: Str(),
  }, { description: 'what the lifecycle policy does next with it (present when the gateway knows the policy); null: nothing' }))),
});
export const MemoriesPage = Page(Memory);

// ---- writes ----

export const Accepted = Type.Object({
  accepted: Type.Array(Type.Object({
    eventId: Str(),
    agentId: Str(),
    producerSeq: Int(),
    streamSeq: Int('sequence of the ingress message that carries it'),
    duplicate: Type.Boolean({ description: 'true: already stored (a retry); nothing new was stored' }),
  })),
});

/** contracts WriteResult */
export const WriteResult = Type.Object({
  memoryId: Str(),
  eventId: Str(),
  consistencyToken: Str('pass as `consistency` to read this write'),
});

// ---- memory API (contracts memoryApi.ts) ----

/** contracts MemoryView */
export const MemoryView = Type.Object({
  memoryId: Str(),
  agentId: Str(),
  kind: Enum(MEMORY_KINDS),
  text: Str(),
  tags: Strs(),
  importance: Num(),
  scope: Enum(SCOPES),
  scopeId: Str(),
  version: Int(),
  createdAt: Ms(),
  updatedAt: Ms(),
  expiresAt: Nullable(Ms()),
  embeddingModel: Str(),
  consolidation: Type.Optional(Type.Object({
    evidence: Int('how many original memories it stands for'),
    mergedIds: Strs('the memories it merged: readable by id, out of recall'),
    spanFrom: Ms('creation time of its first original'),
    spanTo: Ms('creation time of its last original'),
    method: Str("'representative' or 'summary:<model>'"),
    representativeId: Str("the original whose text stands for the group ('' for a summary)"),
  }, { description: 'present on a canonical memory made by consolidation' })),
});

const Ranked = (value: string, description: string) =>
  Type.Object({ [value]: Num(description), rank: Int('1 = best') });

/** contracts ScoreParts */
export const ScoreParts = Type.Object({
  vector: Nullable(Ranked('similarity', 'cosine similarity to the query vector')),
  text: Nullable(Ranked('relevance', 'Postgres ts_rank_cd')),
  recency: Type.Object({ ageMs: Num(), rank: Int() }),
  importance: Type.Object({ value: Num(), rank: Int() }),
  decay: Type.Optional(Type.Object({
    halfLifeDays: Num(), minFactor: Num(), ageDays: Num(), since: Enum(['lastRecalled', 'created'] as const), factor: Num('the score was multiplied by it'),
  }, { description: 'present when the lifecycle policy turns memory decay on' })),
});

/** contracts ConsolidateResponse */
export const ConsolidateResponse = Type.Object({
  agentId: Str(),
  dryRun: Type.Boolean(),
  candidates: Int('live memories of the agent with an embedding, considered'),
  groups: Type.Array(Type.Object({
    canonicalMemoryId: Str(),
    kind: Enum(MEMORY_KINDS),
    ownerKey: Str(),
    mergedIds: Strs(),
    representativeId: Str(),
    text: Str('the canonical text (a dry run shows the representative\'s even when a summarizer is configured)'),
    method: Str(),
    tags: Strs(),
    importance: Num(),
    evidence: Int(),
    spanFrom: Ms(),
    spanTo: Ms(),
    minSimilarity: Num('lowest similarity between the representative and a member'),
  })),
  removedFromRecall: Int('memories leaving recall: the members of every group less the canonical each adds'),
  threshold: Num(),
  minTagOverlap: Num(),
  consistencyToken: Type.Optional(Str('when published: read with it to see the consolidation applied')),
  warnings: Type.Optional(Strs()),
});

/** contracts EraseResult */
export const EraseResult = Type.Object({
  memoryId: Str(),
  erased: Type.Array(Type.Object({ memoryId: Str(), eventId: Str('the memory_erased event'), keyDestroyed: Type.Boolean() }), {
    description: 'this memory, then the consolidated memories derived from it',
  }),
  scrubbedMessages: Int('ingress and dead-letter messages that held the content in the clear, deleted'),
  consistencyToken: Str(),
});

/** contracts ErasureView, paged */
export const ErasuresPage = Page(Type.Object({
  eventId: Str(), memoryId: Str(), agentId: Str(), operator: Str(), reason: Str(), erasedAt: Ms(),
  scrubbed: Type.Boolean({ description: 'false: it was erased before' }), versions: Int('versions whose snapshot was scrubbed'),
  released: Strs('originals an erased canonical memory returned to recall'),
}));

/** contracts RecallResponse */
export const RecallResponse = Type.Object({
  recallId: Str('event id of the memory_recalled event recording this recall; cite it on the decision'),
  hits: Type.Array(Type.Object({
    memory: MemoryView,
    score: Num('sum over rankings of weight / (60 + rank)'),
    parts: ScoreParts,
    tier: Enum(MEMORY_TIERS, { description: 'where the content came from: hot (Redis) or warm (Postgres)' }),
  })),
  embeddingModel: Str("model of the query vector ('' without vector search)"),
  tookMs: Num(),
  warnings: Type.Optional(Strs("parts of the recall that were skipped, and writes the request's consistency token names that ingest rejected")),
});

/** contracts SimilarDecisionsResponse */
export const SimilarDecisionsResponse = Type.Object({
  neighbours: Type.Array(Type.Object({
    decisionId: Str(),
    agentId: Str(),
    symbol: Str(),
    action: Str(),
    size: Num(),
    confidence: Num(),
    rationale: Str(),
    occurredAt: Ms(),
    situation: Type.Array(Type.Number()),
    distance: Num('Euclidean distance between situation vectors'),
    outcome: Type.Object({
      status: Enum(['closed', 'open'] as const),
      realizedPnl: Nullable(Num()),
      win: Nullable(Type.Boolean()),
      holdingMs: Nullable(Num()),
      positionIds: Strs(),
    }),
  })),
  stats: Type.Object({
    n: Int('neighbours with a realized outcome'),
    wins: Int(),
    losses: Int(),
    winRate: Nullable(Num()),
    meanPnl: Nullable(Num()),
    stdevPnl: Nullable(Num('sample standard deviation')),
    medianPnl: Nullable(Num()),
    minPnl: Nullable(Num()),
    maxPnl: Nullable(Num()),
    meanHoldingMs: Nullable(Num()),
  }),
  warnings: Type.Optional(Strs("writes the request's consistency token names that ingest rejected, and why")),
});

/** contracts DecisionContext */
export const DecisionContext = Type.Object({
  decision: Type.Object({
    decisionId: Str(),
    agentId: Str(),
    symbol: Str(),
    action: Str(),
    occurredAt: Ms(),
    rationale: Str(),
    memoryIds: Strs(),
    recallIds: Strs(),
    correlationId: Str(),
  }),
  recalls: Type.Array(Type.Object({
    recallId: Str(),
    occurredAt: Ms(),
    query: Str(),
    filters: JsonObject(),
    k: Int(),
    hits: Type.Array(Type.Object({
      memoryId: Str(),
      version: Num(),
      score: Num(),
      tier: Str('hot or warm'),
      memory: Nullable(JsonObject('the memory as served (that version); null when the agent may not read it now')),
    })),
  }), { description: 'recalls the decision cites, those sharing its correlation id, or else the recalls since its previous decision' }),
  citedMemories: Type.Array(Type.Object({
    memoryId: Str(),
    version: Int('0 when no version existed at the time of the decision'),
    memory: JsonObject('the memory as it was then'),
    currentVersion: Nullable(Int()),
    changedSince: Type.Boolean(),
    forgottenSince: Type.Boolean(),
  })),
  warnings: Type.Optional(Strs("writes the request's consistency token names that ingest rejected, and why")),
});
