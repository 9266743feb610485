import { spawn, type ChildProcess } from 'node:child_process';
import { Kvm } from '@nats-io/kv';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { LEASE_KEYS, names as makeNames, parseDurable, type Names } from '@farmbrain/contracts';
import {
  connectNats,
  connectPostgres,
  connectRedis,
  COMMON_DEFAULTS,
  jetstreamManager,
  provisionStreams,
  quoteIdent,
  type Pool,
} from '@farmbrain/platform';

export type ServiceName = 'ingest' | 'tiering' | 'gateway' | 'archive' | 'analytics';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const entry = (s: ServiceName) => `${ROOT}services/${s}/dist/main.js`;

/** A namespace no other run uses: streams, subjects, keys and schema all derive from it. */
export const uniqueNamespace = (label = 't'): string => `${label}_${randomBytes(5).toString('hex')}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls until `fn` returns a truthy value; fails with `what` after timeoutMs. Never a fixed sleep. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface Proc {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export interface StackOptions {
  namespace?: string;
  partitions?: number;
  env?: Record<string, string>;
  natsUrl?: string;
  /**
   * An archive of its own (a temporary folder, `archiveDir`, removed by destroy): every service gets it as
   * FB_ARCHIVE_URL, so `start('archive')` writes there and tiering replays from it.
   */
  archive?: boolean;
}

/**
 * A farmbrain deployment of its own for one test file: real services as child
 * processes on the local NATS, Redis and Postgres, isolated by namespace, and
 * connections the test can use to look behind the gateway.
 */
export class TestStack {
  readonly namespace: string;
  readonly names: Names;
  readonly natsUrl: string;
  /** The archive's folder (with `archive: true`). */
  readonly archiveDir: string | undefined;
  gatewayUrl = '';
  nc!: NatsConnection;
  js!: JetStreamClient;
  jsm!: JetStreamManager;
  redis!: Redis;
  pool!: Pool;
  /** Running processes by instance name (the service's name unless started as a named instance). */
  readonly #procs = new Map<string, Proc>();
  readonly #env: Record<string, string>;

  constructor(private readonly o: StackOptions = {}) {
    this.namespace = o.namespace ?? uniqueNamespace();
    this.names = makeNames(this.namespace, o.partitions ?? 4);
    this.natsUrl = o.natsUrl ?? process.env.NATS_URL ?? COMMON_DEFAULTS.natsUrl;
    this.archiveDir = o.archive ? join(tmpdir(), `farmbrain-archive-${this.namespace}`) : undefined;
    this.#env = {
      ...(this.archiveDir ? { FB_ARCHIVE_URL: this.archiveDir } : {}),
      FB_NAMESPACE: this.namespace,
      FB_PARTITIONS: String(this.names.partitions),
      NATS_URL: this.natsUrl,
      LOG_LEVEL: 'info',
      // Every service's ops endpoint on a free port: stacks of parallel tests never collide.
      FB_OPS_PORT: '0',
      ...o.env,
    };
  }

  async connect(): Promise<this> {
    this.nc = await connectNats(this.natsUrl, `test-${this.namespace}`);
    this.js = jetstream(this.nc);
    this.jsm = await jetstreamManager(this.nc);
    await provisionStreams(this.jsm, this.names);
    this.redis = await connectRedis(process.env.REDIS_URL ?? COMMON_DEFAULTS.redisUrl, `test-${this.namespace}`);
    this.pool = await connectPostgres(process.env.DATABASE_URL ?? COMMON_DEFAULTS.databaseUrl, this.names.pgSchema, { max: 4 });
    return this;
  }

  /**
   * Starts a service process and waits until it is up (gateway: /readyz; others:
   * it logged that it runs, its partitions' takeovers done). `instance` names a
   * further instance of the service (its FB_INSTANCE_ID, and the name to kill it by). The gateway gets a free
   * port unless `env.FB_GATEWAY_PORT` names one (a restart on the port a browser page already talks to).
   */
  async start(service: ServiceName, env: Record<string, string> = {}, { instance }: { instance?: string } = {}): Promise<void> {
    const name = instance ?? service;
    const extra: Record<string, string> = { FB_INSTANCE_ID: name, ...env };
    if (service === 'gateway') {
      const port = env.FB_GATEWAY_PORT ? Number(env.FB_GATEWAY_PORT) : await freePort();
      extra.FB_GATEWAY_PORT = String(port);
      this.gatewayUrl = `http://127.0.0.1:${port}`;
    }
    const child = spawn(process.execPath, [entry(service)], {
      env: { ...process.env, ...this.#env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (b: Buffer) => {
      output.push(b.toString());
      if (output.length > 2000) output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    this.#procs.set(name, { child, output, exited });
    const alive = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${service} exited (${child.exitCode ?? child.signalCode}): ${output.join('').slice(-2000)}`);
      }
    };
    if (service === 'gateway') {
      await waitFor(`${service} to be ready`, async () => {
        alive();
        const r = await fetch(`${this.gatewayUrl}/readyz`).catch(() => undefined);
        return r?.status === 200;
      });
    } else {
      await waitFor(`${service} to start`, () => {
        alive();
        return output.join('').includes(`"msg":"${service} running"`);
      });
    }
  }

  async #consumerExists(stream: string, durable: string): Promise<boolean> {
    return this.jsm.consumers.info(stream, durable).then(() => true, () => false);
  }

  /** Sends a signal (SIGKILL: a crash) to a service or named instance and waits for the process to be gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.#procs.get(name);
    if (!p) return null;
    p.child.kill(signal);
    const code = await p.exited;
    this.#procs.delete(name);
    return code;
  }

  /** Which instance holds each partition's lease of a consumer group now (`ingest`, `tiering_v1`), by the lease bucket; undefined: none. */
  async leaseOwners(group: string): Promise<(string | undefined)[]> {
    const kv = await new Kvm(this.nc).open(this.names.leaseBucket);
    return Promise.all(Array.from({ length: this.names.partitions }, async (_, p) => {
      const e = await kv.get(LEASE_KEYS.lease(group, p));
      return e?.operation === 'PUT' ? e.json<{ owner: string }>().owner : undefined;
    }));
  }

  /** Sends a signal without waiting (SIGSTOP / SIGCONT: pause and resume a process). */
  signal(name: string, signal: NodeJS.Signals): void {
    const p = this.#procs.get(name);
    if (!p) throw new Error(`no process '${name}' in this stack`);
    p.child.kill(signal);
  }

  /**
   * Runs the real `farmbrain` CLI against this stack (its namespace, partitions, NATS, and gateway when
   * started); resolves with its exit code and output.
   */
  cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [`${ROOT}apps/cli/dist/main.js`, ...args], {
        env: {
          ...process.env, ...this.#env, FB_NAMESPACE: this.namespace, FB_PARTITIONS: String(this.names.partitions), NATS_URL: this.natsUrl, NO_COLOR: '1',
          ...(this.gatewayUrl ? { FB_GATEWAY_URL: this.gatewayUrl } : {}), ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => (out += b));
      child.stderr!.on('data', (b: Buffer) => (err += b));
      child.on('exit', (code) => resolve({ code, out, err }));
    });
  }

  output(name: string): string {
    return this.#procs.get(name)?.output.join('') ?? '';
  }

  /**
   * Waits until every consumer (ingest, tiering, the archive when it runs) has nothing pending or unacked:
   * tiering acks only after Postgres committed and Redis applied.
   */
  async caughtUp(timeoutMs = 60_000): Promise<void> {
    await waitFor('the pipeline to catch up', async () => {
      for (const stream of [this.names.ingressStream, this.names.eventsStream]) {
        // Every consumer group on the stream (ingest; tiering.v1 and any rebuild) has all its partitions' durables, drained.
        const groups = new Map<string, Set<number>>();
        for await (const ci of this.jsm.consumers.list(stream)) {
          const d = parseDurable(ci.name);
          if (!d) continue;
          if (ci.num_pending > 0 || ci.num_ack_pending > 0) return false;
          if (!groups.has(d.group)) groups.set(d.group, new Set());
          groups.get(d.group)!.add(d.partition);
        }
        if (groups.size === 0) return false;
        for (const ps of groups.values()) if (ps.size < this.names.partitions) return false;
      }
      return true;
    }, timeoutMs, 100);
  }

  async get<T = unknown>(path: string): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.gatewayUrl}${path}`);
    return { status: r.status, body: (await r.json()) as T };
  }

  async post<T = unknown>(path: string, body: unknown): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.gatewayUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as T };
  }

  /** Every item of a paged gateway listing. */
  async all<T = Record<string, unknown>>(path: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const sep: string = path.includes('?') ? '&' : '?';
      const page: { status: number; body: { items: T[]; nextCursor: string | null } } = await this.get(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (page.status !== 200) throw new Error(`GET ${path}: ${page.status} ${JSON.stringify(page.body)}`);
      out.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    return out;
  }

  /** Stops every service and removes everything this namespace created. */
  async destroy(): Promise<void> {
    await Promise.all([...this.#procs.keys()].map((s) => this.kill(s, 'SIGKILL')));
    if (this.jsm) {
      for (const s of [this.names.ingressStream, this.names.eventsStream, this.names.deadLetterStream, `KV_${this.names.leaseBucket}`, `KV_${this.names.registryBucket}`, `KV_${this.names.keysBucket}`]) {
        await this.jsm.streams.delete(s).catch(() => undefined);
      }
    }
    if (this.redis) {
      await deleteKeys(this.redis, this.names.redisPrefix);
      this.redis.disconnect();
    }
    if (this.pool) {
      await this.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.names.pgSchema)} CASCADE`).catch(() => undefined);
      // Versions of a projection (blue/green rebuilds), the archive (`<ns>_archive`) and analytics (`<ns>_analytics`)
      // live in schemas named after the namespace; their durables went with the streams above.
      const versions = await this.pool.query<{ s: string }>(`SELECT nspname AS s FROM pg_namespace WHERE nspname LIKE $1`, [`${this.names.pgSchema.replace(/_/g, '\\_')}\\_%`]).catch(() => ({ rows: [] }));
      for (const { s } of versions.rows) await this.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`).catch(() => undefined);
      await this.pool.end();
    }
    await this.nc?.close();
    if (this.archiveDir) rmSync(this.archiveDir, { recursive: true, force: true });
  }
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * A digest of every hot key under `prefix` (the prefix itself left out, so two
 * namespaces compare). The `_v` field (the log position of the last snapshot,
 * which depends on where batches happened to end) and the partitions' marks
 * (`hot:through:<p>`) are left out too.
 */
/**
 * A digest of every key under `prefix` and its content (the partition marks and
 * `_v` fields aside: bookkeeping). `exclude`: key segments after the prefix to
 * leave out (another version's prefix that extends this one, a cache).
 */
export async function redisDigest(redis: Redis, prefix: string, { exclude = [] }: { exclude?: readonly string[] } = {}): Promise<{ keys: number; digest: string }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const own = keys.filter((k) => !exclude.some((x) => k.slice(prefix.length).startsWith(x))).sort();
  const h = createHash('sha256');
  for (const k of own) {
    if (k.slice(prefix.length).startsWith('hot:through:')) continue; // a partition's log position: bookkeeping, as `_v`
    const type = await redis.type(k);
    h.update(`${k.slice(prefix.length)}|${type}|`);
    if (type === 'hash') {
      const o = await redis.hgetall(k);
      for (const f of Object.keys(o).sort()) if (f !== '_v') h.update(`${f}=${o[f]};`);
    } else if (type === 'list') h.update((await redis.lrange(k, 0, -1)).join('\n'));
    else if (type === 'zset') h.update((await redis.zrange(k, 0, -1, 'WITHSCORES')).join('\n'));
    else if (type === 'set') h.update((await redis.smembers(k)).sort().join('\n'));
    else if (type === 'string') h.update((await redis.get(k)) ?? '');
    h.update('\n');
  }
  return { keys: own.length, digest: h.digest('hex') };
}

/** Row count and a content digest of each warm table (stream positions left out). */
export async function warmDigest(pool: Pool): Promise<Record<string, { rows: number; digest: string }>> {
  const tables: Record<string, string> = {
    agents: 'agent_id',
    decisions: 'event_id',
    trades: 'event_id',
    positions: 'position_id',
    position_closes: 'event_id',
    checkpoints: 'event_id',
    memories: 'memory_id',
    memory_versions: 'event_id',
    recalls: 'recall_id',
  };
  const out: Record<string, { rows: number; digest: string }> = {};
  for (const [t, key] of Object.entries(tables)) {
    const r = await pool.query<{ n: number; d: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg((to_jsonb(x) - 'stream_seq' - 'change_seq' - 'part')::text, '|' ORDER BY x.${key})) AS d FROM ${t} x`,
    );
    out[t] = { rows: r.rows[0]!.n, digest: r.rows[0]!.d ?? '' };
  }
  return out;
}
