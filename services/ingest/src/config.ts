import { defaultEventLimits, type EventLimits } from '@farmbrain/contracts';
import { defaultStreamSettings, loadCommonConfig, readers, type CommonConfig, type Env, type StreamSettings } from '@farmbrain/platform';

export interface IngestConfig extends CommonConfig {
  limits: EventLimits;
  streams: StreamSettings;
  /** Ingress messages handled per batch and partition. */
  batchSize: number;
}

/** Reads and validates the ingest configuration once; every default lives here. */
export function loadConfig(env: Env): IngestConfig {
  const r = readers(env);
  const l = defaultEventLimits();
  const s = defaultStreamSettings();
  return {
    ...loadCommonConfig(env),
    limits: {
      maxEventBytes: r.int('FB_MAX_EVENT_BYTES', l.maxEventBytes, 1024, 64 * 1024 * 1024),
      maxCheckpointBytes: r.int('FB_MAX_CHECKPOINT_BYTES', l.maxCheckpointBytes, 0, 64 * 1024 * 1024),
      maxTextChars: r.int('FB_MAX_TEXT_CHARS', l.maxTextChars, 1),
      maxTags: r.int('FB_MAX_TAGS', l.maxTags, 0),
      maxVectorDims: r.int('FB_MAX_VECTOR_DIMS', l.maxVectorDims, 1),
      maxFutureSkewMs: r.int('FB_MAX_FUTURE_SKEW_MS', l.maxFutureSkewMs, 0),
      maxPastSkewMs: r.int('FB_MAX_PAST_SKEW_MS', l.maxPastSkewMs, 0),
    },
    streams: {
      replicas: r.int('FB_STREAM_REPLICAS', s.replicas, 1, 5),
      duplicateWindowMs: r.int('FB_DUPLICATE_WINDOW_MS', s.duplicateWindowMs, 1000),
      ingressMaxAgeMs: r.int('FB_INGRESS_MAX_AGE_MS', s.ingressMaxAgeMs, 60_000),
      deadLetterMaxAgeMs: r.int('FB_DLQ_MAX_AGE_MS', s.deadLetterMaxAgeMs, 60_000),
    },
    batchSize: r.int('FB_INGEST_BATCH', 256, 1, 10_000),
  };
}
