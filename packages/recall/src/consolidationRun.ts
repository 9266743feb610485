import {
  buildEnvelope,
  consistencyTokenOf,
  defaultEventLimits,
  derivedEventId,
  HybridSequence,
  partitionOf,
  SEALED_TEXT,
  validateEvent,
  encodeEvent,
  type ConsolidateRequest,
  type ConsolidateResponse,
  type ConsolidationGroupView,
  type EventLimits,
  type FarmEvent,
  type MemoryKind,
  type Names,
} from '@farmbrain/contracts';
import { fromBytes, normalize, type Logger, type Pool, type Summarizer } from '@farmbrain/platform';
import { DEFAULT_CONSOLIDATION, planConsolidation, type ConsolidationCandidate, type ConsolidationGroup } from './consolidation.js';

export interface ConsolidationRunDeps {
  /** The live projection version's Postgres (its memories). */
  pool: Pool;
  names: Names;
  /**
   * Puts events on the ingress stream, in order, and answers each one's ingress
   * stream sequence (the gateway's EventWriter.publish does).
   */
  publish: (events: readonly FarmEvent[]) => Promise<readonly { streamSeq: number }[]>;
  /** With one, each group's text is a summary of its members (`summary:<model>`); without, the representative's. */
  summarizer?: Summarizer;
  limits?: EventLimits;
  log?: Logger;
  now?: () => number;
}

interface CandidateRow {
  memory_id: string; agent_id: string; owner_key: string; kind: MemoryKind; text: string; tags: string[]; importance: number;
  created: number; embedding: Buffer; embedding_model: string; evidence_count: number; scope: 'agent' | 'team' | 'fleet'; scope_id: string;
  span_from: number | null; span_to: number | null;
}

/** Most memories one consolidation may merge (the contract's bound on mergedIds). */
const MAX_MERGED = 1024;

/**
 * Consolidates one agent's memories: reads its live memories with an
 * embedding (those not already merged), plans the merges (planConsolidation,
 * per embedding model), and, unless `dryRun`, publishes each group as two
 * events of the agent: a memory_stored of the canonical memory (its text and
 * embedding go through ingest like any memory's, sealed with its own key, so
 * the log never holds them in the clear and the canonical can be erased), then
 * memories_consolidated naming it (text SEALED_TEXT: the content is in that
 * memory), which tiering applies by taking the originals out of recall.
 *
 * Event ids derive from the canonical id, so a repeated run of the same plan
 * (before the first was applied) publishes duplicates that change nothing.
 * The gateway's POST /v1/agents/:agentId/memories/consolidate calls this; an
 * optimize run (lifecycle policy) can call it the same way.
 */
export async function consolidateAgent(d: ConsolidationRunDeps, agentId: string, req: ConsolidateRequest = {}): Promise<ConsolidateResponse> {
  const o = {
    ...DEFAULT_CONSOLIDATION,
    ...(req.threshold !== undefined ? { threshold: req.threshold } : {}),
    ...(req.minTagOverlap !== undefined ? { minTagOverlap: req.minTagOverlap } : {}),
  };
  const limits = d.limits ?? defaultEventLimits();
  const now = d.now ?? Date.now;
  const rows = await readCandidates(d.pool, agentId, req.kinds);
  const byId = new Map(rows.map((r) => [r.memory_id, r]));
  // Vectors of different models never compare: plan each model's memories apart.
  const byModel = new Map<string, ConsolidationCandidate[]>();
  for (const r of rows) {
    const key = `${r.embedding_model}\u0000${r.embedding.length}`;
    byModel.set(key, [...(byModel.get(key) ?? []), {
      memoryId: r.memory_id, agentId: r.agent_id, ownerKey: r.owner_key, kind: r.kind, text: r.text, tags: r.tags, importance: r.importance,
      createdAt: r.created, embedding: fromBytes(r.embedding), evidence: r.evidence_count,
    }]);
  }
  const warnings: string[] = [];
  const planned: ConsolidationGroup[] = [];
  for (const key of [...byModel.keys()].sort()) {
    for (const g of planConsolidation(byModel.get(key)!, o)) {
      if (g.mergedIds.length > MAX_MERGED) warnings.push(`a group of ${g.mergedIds.length} near-duplicates (canonical ${g.canonicalMemoryId}) is larger than ${MAX_MERGED}: left as it is; raise the threshold`);
      else planned.push(g);
    }
  }
  const method = d.summarizer ? `summary:${d.summarizer.model}` : 'representative';
  const groups: (ConsolidationGroupView & { scope: CandidateRow['scope']; scopeId: string; embedding: number[]; model: string })[] = [];
  for (const g of planned) {
    const members = g.mergedIds.map((id) => byId.get(id)!);
    // Earlier canonicals merged again keep the span of their own evidence.
    const spanFrom = Math.min(...members.map((m) => m.span_from ?? m.created));
    const spanTo = Math.max(...members.map((m) => m.span_to ?? m.created));
    const rep = byId.get(g.representativeId)!;
    let text = g.text;
    let groupMethod = 'representative';
    if (d.summarizer && !req.dryRun) {
      try {
        const s = await d.summarizer.summarize(members.map((m) => m.text));
        if (s.length > limits.maxTextChars) throw new Error(`the summary has ${s.length} characters, more than the ${limits.maxTextChars} a memory may hold`);
        text = s;
        groupMethod = method;
      } catch (err) {
        warnings.push(`group ${g.canonicalMemoryId}: no summary (${(err as Error).message}); the most representative original's text is kept`);
      }
    } else if (d.summarizer) groupMethod = method;
    const summary = groupMethod !== 'representative';
    groups.push({
      canonicalMemoryId: g.canonicalMemoryId, kind: g.kind, ownerKey: g.ownerKey, mergedIds: g.mergedIds,
      representativeId: summary ? '' : g.representativeId, text, method: groupMethod, tags: g.tags.slice(0, limits.maxTags), importance: g.importance,
      evidence: g.evidence, spanFrom, spanTo, minSimilarity: round(g.minSimilarity),
      scope: rep.scope, scopeId: rep.scope_id, model: rep.embedding_model,
      // A summary stands for all of them: the members' centroid, in their model (a representative: its own vector).
      embedding: [...(summary ? centroid(members.map((m) => fromBytes(m.embedding))) : fromBytes(rep.embedding))],
    });
  }
  const removedFromRecall = groups.reduce((n, g) => n + g.mergedIds.length - 1, 0);
  const out: ConsolidateResponse = {
    agentId, dryRun: Boolean(req.dryRun), candidates: rows.length,
    groups: groups.map(({ scope: _s, scopeId: _i, embedding: _e, model: _m, ...v }) => v),
    removedFromRecall, threshold: o.threshold, minTagOverlap: o.minTagOverlap,
  };
  if (req.dryRun || groups.length === 0) return warnings.length > 0 ? { ...out, warnings } : out;

  const seq = new HybridSequence();
  const at = now();
  const events: FarmEvent[] = [];
  for (const g of groups) {
    const stored = buildEnvelope({
      agentId, type: 'memory_stored', eventId: derivedEventId(g.spanFrom, `consolidation-stored\u0000${g.canonicalMemoryId}`),
      data: {
        memoryId: g.canonicalMemoryId, kind: g.kind, text: g.text, tags: g.tags, importance: g.importance, embedding: g.embedding,
        embeddingModel: g.model, scope: g.scope, scopeId: g.scopeId, situation: [], sourceEventIds: [],
      },
    }, { seq, now: () => at });
    const consolidated = buildEnvelope({
      agentId, type: 'memories_consolidated', eventId: derivedEventId(g.spanFrom, `consolidated\u0000${g.canonicalMemoryId}`),
      data: {
        canonicalMemoryId: g.canonicalMemoryId, mergedIds: g.mergedIds, text: SEALED_TEXT, representativeId: g.representativeId, method: g.method,
        similarityThreshold: o.threshold,
        reason: `${g.mergedIds.length} near-duplicate ${g.kind} memories (cosine >= ${o.threshold} and tag overlap >= ${o.minTagOverlap} with the group's leader; ` +
          `lowest similarity to the representative ${g.minSimilarity}), evidence ${g.evidence}, ${new Date(g.spanFrom).toISOString()} .. ${new Date(g.spanTo).toISOString()}`,
      },
    }, { seq, now: () => at });
    for (const e of [stored, consolidated]) {
      const issues = validateEvent(e, { limits, now: at, encodedBytes: encodeEvent(e).byteLength });
      if (issues.length > 0) throw new Error(`consolidation of ${g.canonicalMemoryId} makes an invalid ${e.type} event: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
    }
    events.push(stored, consolidated);
  }
  const acks = await d.publish(events);
  const last = Math.max(...acks.map((a) => a.streamSeq));
  d.log?.info({ agentId, groups: groups.length, removedFromRecall, method }, 'memories consolidated (published)');
  return { ...out, consistencyToken: consistencyTokenOf(partitionOf(agentId, d.names.partitions), last), ...(warnings.length > 0 ? { warnings } : {}) };
}

/** The agent's live memories that recall serves, with an embedding: what consolidation may merge. */
async function readCandidates(pool: Pool, agentId: string, kinds: readonly MemoryKind[] | undefined): Promise<CandidateRow[]> {
  const r = await pool.query<CandidateRow>(
    `SELECT memory_id, agent_id, owner_key, kind, text, tags, importance, (extract(epoch from created_at) * 1000)::bigint AS created,
            embedding, embedding_model, evidence_count, scope, scope_id,
            (extract(epoch from span_from) * 1000)::bigint AS span_from, (extract(epoch from span_to) * 1000)::bigint AS span_to
       FROM memories
      WHERE agent_id = $1 AND forgotten_at IS NULL AND consolidated_into IS NULL AND embedding IS NOT NULL
        AND (expires_at IS NULL OR expires_at > now()) AND ($2::text[] IS NULL OR kind = ANY($2))
      ORDER BY memory_id`,
    [agentId, kinds && kinds.length > 0 ? kinds : null],
  );
  return r.rows.map((x) => ({ ...x, created: Number(x.created), span_from: x.span_from === null ? null : Number(x.span_from), span_to: x.span_to === null ? null : Number(x.span_to) }));
}

function centroid(vs: readonly Float32Array[]): Float32Array {
  const sum = new Float32Array(vs[0]!.length);
  for (const v of vs) v.forEach((x, i) => (sum[i]! += x));
  return normalize(sum);
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
