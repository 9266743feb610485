/** The part of the Web Storage API the client uses (window.localStorage has it). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A Storage kept in memory: the default when none is given (nothing survives a reload), and a test double. */
export class MemoryStorage implements StorageLike {
  readonly #items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
  get length(): number {
    return this.#items.size;
  }
}
