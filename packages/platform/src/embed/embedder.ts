import { FarmbrainError } from '@farmbrain/contracts';

/** Turns texts into vectors for memory search. Every vector of one model is comparable by dot product. */
export interface Embedder {
  /** Model id recorded on every memory, including version and dims, e.g. 'farmbrain/hash-v1-256' or 'openai-compat/text-embedding-3-small'. */
  readonly model: string;
  /** Output dimensions (for an endpoint: known after the first call unless configured; 0 until then). */
  readonly dims: number;
  /** One L2-normalised Float32Array per text, same order. Throws FarmbrainError('EMBEDDINGS_UNAVAILABLE', ...) with an actionable message on failure. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** L2-normalised copy of `v`; the zero vector stays zero (never NaN). */
export function normalize(v: ArrayLike<number>): Float32Array {
  return normalizeInPlace(Float32Array.from(v));
}

/** Scales `v` to unit length in place (norm summed in float64) and returns it. */
export function normalizeInPlace(v: Float32Array): Float32Array {
  // Scaled by the largest component first, so the sum of squares can neither overflow nor underflow.
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  if (!(max > 0) || !Number.isFinite(max)) return v;
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i]! / max) ** 2;
  const inv = 1 / (max * Math.sqrt(sum));
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The stored form of a vector (Postgres bytea): float32 little-endian, 4 bytes per dimension. */
export function toBytes(v: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)); // copies
  const b = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i]!, i * 4);
  return b;
}

/**
 * Inverse of `toBytes`. An aligned input is viewed, not copied (the result shares
 * memory with `b`); an unaligned one (a slice of Node's Buffer pool, as pg returns
 * for bytea) is copied, since a Float32Array must start at a multiple of 4 bytes.
 */
export function fromBytes(b: Uint8Array): Float32Array {
  if (b.byteLength % 4 !== 0) {
    throw new FarmbrainError('INVALID_VECTOR', `a stored vector must be a multiple of 4 bytes (float32 little-endian); got ${b.byteLength}`);
  }
  const n = b.byteLength / 4;
  if (!LITTLE_ENDIAN) {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The error every embedder throws when it cannot produce vectors. */
export function embeddingsUnavailable(message: string, cause?: unknown): FarmbrainError {
  return new FarmbrainError('EMBEDDINGS_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

/** The endpoint refused the request as such (HTTP 400, 413, 422): it may be one text it will not take (too long, say). */
export class EmbeddingsRefusedError extends FarmbrainError {
  constructor(readonly status: number, message: string) {
    super('EMBEDDINGS_UNAVAILABLE', message);
    this.name = 'EmbeddingsRefusedError';
  }
}
