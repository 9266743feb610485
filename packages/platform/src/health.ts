import type { Logger } from './logger.js';

/** A check of one dependency: resolves when it answers, rejects (or times out) when not. */
export type Probe = () => Promise<unknown>;

export interface HealthOptions {
  log: Logger;
  /** How often each probe runs, ms. */
  intervalMs?: number;
  /** A probe slower than this counts as down, ms. */
  timeoutMs?: number;
}

export interface Readiness {
  status: 'ready' | 'degraded';
  checks: Record<string, boolean>;
}

/**
 * Keeps the state of each dependency (and of any passive check a service
 * reports, such as "the memory index has loaded") by probing it in the
 * background. Readiness is read from that state, so /readyz answers at once
 * whatever the dependencies do, and reflects a change within one interval plus
 * one timeout. Logs once per change of state, never once per probe.
 */
export class HealthMonitor {
  readonly #state = new Map<string, { ok: boolean; since: number }>();
  /** One pending timer per probe (replaced at each run). */
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #stopped = false;

  constructor(private readonly probes: Record<string, Probe>, private readonly o: HealthOptions) {
    this.#intervalMs = o.intervalMs ?? 500;
    this.#timeoutMs = o.timeoutMs ?? 800;
  }

  /** Starts probing; the first round runs at once. */
  start(): this {
    for (const [name, probe] of Object.entries(this.probes)) {
      const run = async () => {
        if (this.#stopped) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            probe(),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs))),
          ]);
          this.set(name, true);
        } catch (err) {
          this.set(name, false, (err as Error)?.message ?? String(err));
        } finally {
          clearTimeout(timer);
        }
        if (!this.#stopped) this.#timers.set(name, setTimeout(run, this.#intervalMs).unref());
      };
      void run();
    }
    return this;
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
  }

  /** Records a state (from a probe, or reported by the service itself) and logs a change. */
  set(name: string, ok: boolean, why?: string): void {
    const cur = this.#state.get(name);
    if (cur?.ok === ok) return;
    const now = Date.now();
    this.#state.set(name, { ok, since: now });
    if (!ok && !cur) this.o.log.info({ dependency: name, why }, `${name} not available yet`);
    else if (!ok) this.o.log.warn({ dependency: name, why }, `${name} unavailable`);
    else if (cur) this.o.log.info({ dependency: name, downMs: now - cur.since }, `${name} available again`);
  }

  /** True when `name` was last seen up (false before its first probe). */
  ok(name: string): boolean {
    return this.#state.get(name)?.ok ?? false;
  }

  readiness(): Readiness {
    const checks: Record<string, boolean> = {};
    for (const name of new Set([...Object.keys(this.probes), ...this.#state.keys()])) checks[name] = this.ok(name);
    return { status: Object.values(checks).every(Boolean) ? 'ready' : 'degraded', checks };
  }
}
