import type { Logger } from '@farmbrain/platform';
import type { ProjectionRegistry, ProjectionVersion } from '@farmbrain/projection';

/** The gateway's stores of one projection version: what the routes read. */
export interface VersionStores<S> {
  version: ProjectionVersion;
  stores: S;
  /** Resolves once they are loaded (the vector index): a switch waits for it, the first version serves meanwhile. */
  loaded: Promise<unknown>;
  /** Closes them (after the requests still using them had time to finish). */
  close(): Promise<void>;
}

export interface LiveVersionOptions<S> {
  registry: ProjectionRegistry;
  service: string;
  firstVersion: string;
  log: Logger;
  /** Opens a version's stores (what must load before a switch to it resolves `loaded`). */
  open(v: ProjectionVersion): VersionStores<S>;
  pollMs?: number;
  /** How long the old version's stores stay open after a switch, for requests in flight. */
  graceMs?: number;
}

/**
 * Follows the live version of a projection (the registry's `live`): serves
 * from its stores, and when an operator switches (`farmbrain switch`), opens
 * the new version's stores, loads them, and swaps, without a restart. Until the
 * new one is loaded, the old one serves; after the swap, every request reads
 * the new one.
 */
export class LiveVersion<S> {
  #current: VersionStores<S> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #switching: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(private readonly o: LiveVersionOptions<S>) {}

  get stores(): S {
    if (!this.#current) throw new Error('no live version opened yet');
    return this.#current.stores;
  }

  get name(): string | undefined {
    return this.#current?.version.name;
  }

  /** Opens the live version as the registry names it, then follows the registry. Returns it (its `loaded` may still be pending). */
  async start(): Promise<VersionStores<S>> {
    const reg = await this.o.registry.read(this.o.service, this.o.firstVersion);
    this.#current = this.o.open(reg.versions[reg.live] ?? reg.versions[this.o.firstVersion]!);
    this.#timer = setInterval(() => void this.poll(), this.o.pollMs ?? 1000).unref();
    return this.#current;
  }

  poll(): Promise<void> {
    this.#switching = this.#switching.then(() => this.#check()).catch((err: unknown) => {
      this.o.log.warn({ err: (err as Error)?.message ?? String(err) }, 'following the live projection version failed; retried');
    });
    return this.#switching;
  }

  async #check(): Promise<void> {
    if (this.#stopped || !this.#current) return;
    const reg = await this.o.registry.read(this.o.service, this.o.firstVersion);
    if (reg.live === this.#current.version.name) return;
    const v = reg.versions[reg.live];
    if (!v) return;
    const t0 = Date.now();
    this.o.log.info({ from: this.#current.version.name, to: v.name }, 'live projection version changed; loading it');
    const next = this.o.open(v);
    try {
      await next.loaded;
    } catch (err) {
      await next.close().catch(() => undefined);
      throw err;
    }
    const old = this.#current;
    this.#current = next;
    this.o.log.info({ from: old.version.name, to: v.name, ms: Date.now() - t0 }, 'readers switched to the new live version');
    setTimeout(() => void old.close().catch(() => undefined), this.o.graceMs ?? 10_000).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#switching;
    await this.#current?.close();
  }
}
