import { derivedEventId, type MemoryKind } from '@farmbrain/contracts';
import { dot } from './vectorIndex.js';

/** A live memory, as consolidation sees it (one author's, one owner's). */
export interface ConsolidationCandidate {
  memoryId: string;
  agentId: string;
  ownerKey: string;
  kind: MemoryKind;
  text: string;
  tags: readonly string[];
  importance: number;
  createdAt: number;
  /** L2-normalised; memories without one are never merged. */
  embedding: Float32Array | null;
  /** How many memories it already stands for (1 for an original). */
  evidence: number;
}

export interface ConsolidationOptions {
  /** Cosine similarity at or above which two memories are near-duplicates. */
  threshold: number;
  /** Least Jaccard overlap of two memories' tags (two untagged memories overlap fully). */
  minTagOverlap: number;
  /** Only groups of at least this many memories merge. */
  minGroup: number;
}

/**
 * Defaults: 0.9 cosine (the demo's repeated lessons score 0.93-0.97 with the hash embedder, different setups below 0.6),
 * and 0.75 tag overlap, so memories tagged for another symbol, regime or exit (one tag of five differs: 0.67) stay apart.
 */
export const DEFAULT_CONSOLIDATION: Readonly<ConsolidationOptions> = Object.freeze({ threshold: 0.9, minTagOverlap: 0.75, minGroup: 2 });

/** One merge: the memories it replaces in recall and the canonical memory that stands for them. */
export interface ConsolidationGroup {
  agentId: string;
  ownerKey: string;
  kind: MemoryKind;
  /** Derived from the merged ids: planning the same group again names the same memory. */
  canonicalMemoryId: string;
  /** Sorted. */
  mergedIds: string[];
  /** The most representative member: the highest mean similarity to the others (ties: the earliest, then the smallest id). */
  representativeId: string;
  text: string;
  tags: string[];
  importance: number;
  evidence: number;
  firstAt: number;
  lastAt: number;
  /** Lowest similarity between the representative and a member. */
  minSimilarity: number;
}

export const tagOverlap = (a: readonly string[], b: readonly string[]): number => {
  if (a.length === 0 && b.length === 0) return 1;
  const sa = new Set(a);
  const inter = b.filter((t, i) => sa.has(t) && b.indexOf(t) === i).length;
  return inter / new Set([...a, ...b]).size;
};

/**
 * Plans consolidation (pure, deterministic): memories of one author, owner and
 * kind are grouped around leaders (memories in order of importance, then age,
 * then id; each joins the first leader it is a near-duplicate of: similarity at
 * or above the threshold AND enough tag overlap, judged against the leader, so
 * a chain of small steps never merges memories that are far apart). Groups of
 * at least `minGroup` become one canonical memory whose text is the
 * representative member's.
 */
export function planConsolidation(memories: readonly ConsolidationCandidate[], o: ConsolidationOptions = DEFAULT_CONSOLIDATION): ConsolidationGroup[] {
  const buckets = new Map<string, ConsolidationCandidate[]>();
  for (const m of memories) {
    if (!m.embedding) continue;
    const key = `${m.agentId}\u0000${m.ownerKey}\u0000${m.kind}`;
    buckets.set(key, [...(buckets.get(key) ?? []), m]);
  }
  const out: ConsolidationGroup[] = [];
  for (const key of [...buckets.keys()].sort()) {
    const ms = [...buckets.get(key)!].sort((a, b) => b.importance - a.importance || a.createdAt - b.createdAt || (a.memoryId < b.memoryId ? -1 : 1));
    const groups: { leader: ConsolidationCandidate; members: ConsolidationCandidate[] }[] = [];
    for (const m of ms) {
      const g = groups.find((x) => dot(x.leader.embedding!, m.embedding!) >= o.threshold && tagOverlap(x.leader.tags, m.tags) >= o.minTagOverlap);
      if (g) g.members.push(m);
      else groups.push({ leader: m, members: [m] });
    }
    for (const { members } of groups) {
      if (members.length < o.minGroup) continue;
      out.push(groupOf(members));
    }
  }
  return out.sort((a, b) => (a.canonicalMemoryId < b.canonicalMemoryId ? -1 : 1));
}

function groupOf(members: readonly ConsolidationCandidate[]): ConsolidationGroup {
  const mean = (m: ConsolidationCandidate) => members.reduce((s, x) => s + (x === m ? 0 : dot(m.embedding!, x.embedding!)), 0) / (members.length - 1);
  const rep = [...members].sort((a, b) => mean(b) - mean(a) || a.createdAt - b.createdAt || (a.memoryId < b.memoryId ? -1 : 1))[0]!;
  const mergedIds = members.map((m) => m.memoryId).sort();
  const first = members[0]!;
  const tags = [...new Set(members.flatMap((m) => m.tags))].sort();
  return {
    agentId: first.agentId,
    ownerKey: first.ownerKey,
    kind: first.kind,
    canonicalMemoryId: `c-${derivedEventId(Math.min(...members.map((m) => m.createdAt)), `consolidated\u0000${mergedIds.join('\u0000')}`)}`,
    mergedIds,
    representativeId: rep.memoryId,
    text: rep.text,
    tags,
    importance: Math.max(...members.map((m) => m.importance)),
    evidence: members.reduce((s, m) => s + m.evidence, 0),
    firstAt: Math.min(...members.map((m) => m.createdAt)),
    lastAt: Math.max(...members.map((m) => m.createdAt)),
    minSimilarity: Math.min(...members.map((m) => dot(rep.embedding!, m.embedding!))),
  };
}
