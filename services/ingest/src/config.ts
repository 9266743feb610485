import type { EventLimits, ScopePolicy } from '@farmbrain/contracts';
import { loadCommonConfig, loadEventLimits, loadScopePolicy, readers, type CommonConfig, type Env } from '@farmbrain/platform';

export interface IngestConfig extends CommonConfig {
  limits: EventLimits;
  /** Who may write team and fleet memories. */
  scopes: ScopePolicy;
  /** Ingress messages handled per batch and partition. */
  batchSize: number;
}

/** Reads and validates the ingest configuration once; every default lives in one place. */
export function loadConfig(env: Env): IngestConfig {
  const r = readers(env);
  return {
    ...loadCommonConfig(env),
    limits: loadEventLimits(env),
    scopes: loadScopePolicy(env),
    batchSize: r.int('FB_INGEST_BATCH', 256, 1, 10_000),
  };
}
