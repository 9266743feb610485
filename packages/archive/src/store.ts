/**
 * An object store holding the archive: immutable objects under keys such as
 * `<ns>/segments/p0003/<first>-<last>.seg`.
 *
 * Immutability is the contract: `put` of a key that exists succeeds only when
 * the bytes are the same (so a write retried after a crash is a no-op) and is
 * refused otherwise (ObjectConflictError). The one way to change an object is
 * to `remove` it and put another: that exists for deliberate rewrites only
 * (erasure: rewriting the segments that held an erased memory), never for the
 * sealer's ordinary work.
 */
export interface ArchiveStore {
  /** Where it is, for logs (no credentials). */
  readonly location: string;
  /** Stores `bytes` under `key`, durably, unless the same bytes are there already. */
  put(key: string, bytes: Uint8Array): Promise<'written' | 'exists'>;
  /** The object's bytes; ObjectMissingError when there is none. */
  get(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  /** Every key starting with `prefix`, in byte order. */
  list(prefix: string): Promise<string[]>;
  /** Deletes the object (no error when it is not there). For deliberate rewrites only (erasure). */
  remove(key: string): Promise<void>;
  close?(): Promise<void>;
}

/** Keys are relative paths of safe characters: nothing can escape the store's root or prefix. */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new RangeError(`'${key}' is not a valid archive key (relative, '/'-separated, letters, digits, '_', '.', '-')`);
  }
  return key;
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
