/**
 * One Storage shared by several "tabs", as localStorage is by the tabs of an origin: each tab gets
 * its own view (a StorageLike and the source of its 'storage' events). A change made through one
 * view is heard by the listeners of every other view (not its own), as a browser does, and only
 * when the value changed; `events: 'async'` (default) delivers them in a later task, 'sync' at
 * once, 'none' never (the client must then read the queue again at each operation).
 */
import type { StorageLike } from '../memoryStorage.js';

export interface StorageChangeEvent {
  key: string | null;
  oldValue: string | null;
  newValue: string | null;
  storageArea: StorageTab;
}

type Listener = (e: StorageChangeEvent) => void;

export class SharedStorage {
  readonly items = new Map<string, string>();
  readonly #tabs = new Set<StorageTab>();
  constructor(readonly events: 'async' | 'sync' | 'none' = 'async') {}

  /** A new tab's view of the Storage. */
  tab(): StorageTab {
    const t = new StorageTab(this);
    this.#tabs.add(t);
    return t;
  }

  /** @internal a change made through `from`: heard by the other tabs. */
  changed(from: StorageTab, key: string, oldValue: string | null, newValue: string | null): void {
    if (oldValue === newValue || this.events === 'none') return;
    for (const t of this.#tabs) {
      if (t === from) continue;
      const e = { key, oldValue, newValue, storageArea: t };
      if (this.events === 'sync') t.dispatch(e);
      else setImmediate(() => t.dispatch(e));
    }
  }
}

export class StorageTab implements StorageLike {
  readonly #listeners = new Set<Listener>();
  constructor(readonly shared: SharedStorage) {}

  getItem(key: string): string | null {
    return this.shared.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    const old = this.getItem(key);
    this.shared.items.set(key, String(value));
    this.shared.changed(this, key, old, String(value));
  }
  removeItem(key: string): void {
    const old = this.getItem(key);
    this.shared.items.delete(key);
    this.shared.changed(this, key, old, null);
  }

  addEventListener(type: 'storage', l: Listener): void {
    if (type === 'storage') this.#listeners.add(l);
  }
  removeEventListener(type: 'storage', l: Listener): void {
    if (type === 'storage') this.#listeners.delete(l);
  }
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** @internal */
  dispatch(e: StorageChangeEvent): void {
    for (const l of [...this.#listeners]) l(e);
  }
}

/** An in-process stand-in for navigator.locks (exclusive locks by name, granted in request order). */
export class TestLocks {
  readonly #tails = new Map<string, Promise<unknown>>();
  #held = 0;
  /** The most holders of one lock at the same time (1 when it serialises). */
  maxHeld = 0;
  granted = 0;

  request(name: string, callback: () => Promise<unknown>): Promise<unknown> {
    const prev = this.#tails.get(name) ?? Promise.resolve();
    const run = prev.then(async () => {
      this.#held += 1;
      this.granted += 1;
      this.maxHeld = Math.max(this.maxHeld, this.#held);
      try {
        return await callback();
      } finally {
        this.#held -= 1;
      }
    });
    this.#tails.set(name, run.catch(() => undefined));
    return run;
  }
}
