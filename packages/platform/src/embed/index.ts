import { readers, type Env } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Embedder } from './embedder.js';
import { hashEmbedder } from './hashEmbedder.js';
import { embeddingsEndpoint, openAiEmbedder } from './openaiEmbedder.js';

export { normalize, toBytes, fromBytes, EmbeddingsRefusedError } from './embedder.js';
export type { Embedder } from './embedder.js';
export { hashEmbedder, hashEmbed } from './hashEmbedder.js';
export { openAiEmbedder } from './openaiEmbedder.js';
export type { OpenAiEmbedderOptions } from './openaiEmbedder.js';

/** Which embedder a service uses: an OpenAI-compatible endpoint when `url` is set, else the built-in hash embedder. */
export interface EmbedConfig {
  /** FB_EMBEDDINGS_URL; '' = use the built-in hash embedder. */
  url: string;
  model: string;
  apiKey: string;
  /** Requested dimensions; 0 = the model's default. */
  dims: number;
  batchSize: number;
  timeoutMs: number;
  hashDims: number;
}

export function loadEmbedConfig(env: Env): EmbedConfig {
  const r = readers(env);
  const url = r.str('FB_EMBEDDINGS_URL', '');
  if (url !== '') {
    try {
      embeddingsEndpoint(url);
    } catch {
      throw new ConfigError(`FB_EMBEDDINGS_URL='${url}' must be an http(s) URL: the API base (e.g. https://api.openai.com/v1) or the full /embeddings URL`);
    }
  }
  return {
    url,
    model: r.str('FB_EMBEDDINGS_MODEL', 'text-embedding-3-small'),
    apiKey: r.str('FB_EMBEDDINGS_API_KEY', r.str('OPENAI_API_KEY', '')),
    dims: r.int('FB_EMBEDDINGS_DIMS', 0, 0, 65536),
    batchSize: r.int('FB_EMBEDDINGS_BATCH', 64, 1, 2048),
    timeoutMs: r.int('FB_EMBEDDINGS_TIMEOUT_MS', 10_000, 1, 600_000),
    hashDims: r.int('FB_HASH_EMBEDDER_DIMS', 256, 1, 65536),
  };
}

export function createEmbedder(cfg: EmbedConfig): Embedder {
  if (cfg.url === '') return hashEmbedder(cfg.hashDims);
  return openAiEmbedder({
    url: cfg.url,
    model: cfg.model,
    ...(cfg.apiKey !== '' ? { apiKey: cfg.apiKey } : {}),
    dims: cfg.dims,
    batchSize: cfg.batchSize,
    timeoutMs: cfg.timeoutMs,
  });
}
