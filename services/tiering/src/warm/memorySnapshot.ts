/** A memory row as a memory_versions snapshot (what provenance shows of it "as it was"). */
export const SNAPSHOT_SQL = `jsonb_build_object('memoryId', memory_id, 'agentId', agent_id, 'kind', kind, 'text', text,
  'tags', tags, 'importance', importance, 'scope', scope, 'scopeId', scope_id, 'version', version,
  'expiresAt', expires_at, 'createdAt', created_at, 'updatedAt', updated_at, 'forgottenAt', forgotten_at,
  'embeddingDims', embedding_dims, 'embeddingModel', embedding_model)`;

/** A canonical memory's snapshot: a memory's, plus what it stands for (consolidation). */
export const CANONICAL_SNAPSHOT_SQL = `${SNAPSHOT_SQL} || jsonb_build_object('mergedIds', merged_ids, 'evidence', evidence_count,
  'spanFrom', span_from, 'spanTo', span_to, 'method', consolidation_method, 'representativeId', representative_id)`;
