import type { Logger } from '@farmbrain/platform';
import type { ProjectionRegistry, ProjectionVersion } from './registry.js';

/** A version running in this instance. */
export interface HostedVersion {
  /** Drains its partitions and hands their leases back. */
  stop(): Promise<void>;
}

export interface VersionHostOptions {
  registry: ProjectionRegistry;
  service: string;
  /** The service's first version (the configured projection name). */
  firstVersion: string;
  log: Logger;
  /** Starts applying a version in this instance (its stores migrated, its runner joined). */
  start(v: ProjectionVersion): Promise<HostedVersion>;
  pollMs?: number;
}

/**
 * Runs, in this instance, every active version of a service's projection
 * (blue/green: the live one and any rebuild), following the registry: a version
 * added is started, one marked for dropping (or removed) is stopped.
 */
export class VersionHost {
  readonly #running = new Map<string, HostedVersion>();
  readonly #starting = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(private readonly o: VersionHostOptions) {}

  /** Starts the active versions (before it returns), then follows the registry. */
  async start(): Promise<void> {
    await this.poll();
    this.#timer = setInterval(() => void this.poll(), this.o.pollMs ?? 2000).unref();
  }

  running(): string[] {
    return [...this.#running.keys()].sort();
  }

  poll(): Promise<void> {
    this.#polling = this.#polling.then(() => this.#sync()).catch((err: unknown) => {
      this.o.log.warn({ err: (err as Error)?.message ?? String(err), service: this.o.service }, 'reading the projection registry failed; retried');
    });
    return this.#polling;
  }

  async #sync(): Promise<void> {
    if (this.#stopped) return;
    const reg = await this.o.registry.read(this.o.service, this.o.firstVersion);
    const active = Object.values(reg.versions).filter((v) => v.state === 'active');
    for (const v of active) {
      if (this.#running.has(v.name) || this.#starting.has(v.name)) continue;
      this.#starting.add(v.name);
      try {
        this.#running.set(v.name, await this.o.start(v));
        this.o.log.info({ version: v.name, schema: v.schema, redisPrefix: v.redisPrefix, live: reg.live === v.name }, 'projection version running here');
      } catch (err) {
        this.o.log.warn({ err: (err as Error)?.message ?? String(err), version: v.name }, 'projection version could not start; retried');
      } finally {
        this.#starting.delete(v.name);
      }
    }
    for (const [name, h] of this.#running) {
      if (active.some((v) => v.name === name)) continue;
      this.#running.delete(name);
      await h.stop();
      this.o.log.info({ version: name }, 'projection version stopped here (dropped)');
    }
  }

  /** Stops following the registry and stops every version (each drains and hands its leases back). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#polling;
    await Promise.all([...this.#running.values()].map((h) => h.stop()));
    this.#running.clear();
  }
}
