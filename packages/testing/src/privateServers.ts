import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './stack.js';

/**
 * Private NATS, Redis and Postgres servers for tests that stop, kill or restart
 * a dependency. The machine's shared servers (4222, 6379, 5432) are never
 * touched: each private server listens on 127.0.0.1 on a free port of its own,
 * keeps its files in a temp dir of its own, and keeps that port across restarts
 * so clients reconnect to the same URL. `destroy()` stops it and deletes the
 * temp dir; a process exit (a failed or cancelled test included) kills whatever
 * is still running and deletes the dirs, so nothing outlives the test file.
 */

const PG_BIN = '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** Everything still running or still on disk: removed at process exit whatever happens. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

/** Where and as whom a server process runs. */
interface ProcOptions {
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** A child process with its output kept (the last lines) and its exit as a promise. */
class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #out: string[] = [];

  constructor(cmd: string, args: string[], opts: ProcOptions = {}) {
    installExitHook();
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, uid: opts.uid, gid: opts.gid, env: { ...process.env, LC_ALL: 'C' } });
    live.add(this.child);
    const keep = (b: Buffer) => {
      this.#out.push(b.toString());
      if (this.#out.length > 100) this.#out.shift();
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        keep(Buffer.from(`spawn failed: ${err.message}\n`));
        live.delete(this.child);
        resolve({ code: null, signal: null });
      });
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  get alive(): boolean {
    return live.has(this.child);
  }

  get output(): string {
    return this.#out.join('').slice(-4000);
  }

  /** Throws with the server's last output when it has exited (a start that can never succeed). */
  assertAlive(what: string): void {
    if (!this.alive) throw new Error(`${what} exited during start-up: ${this.output}`);
  }

  /** Sends `signal` and waits for the exit; SIGKILL when it has not exited within the bound. */
  async stop(signal: NodeJS.Signals, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    const done = await Promise.race([this.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

function makeTempDir(label: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `fb-${label}-`));
  dirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/**
 * Connects to 127.0.0.1:port, optionally writes `hello`, and resolves the first
 * bytes the server sends (within timeoutMs), or undefined when nothing answers.
 */
function hello(port: number, send: string | undefined, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    let got = '';
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(got || undefined), timeoutMs);
    s.once('error', () => done(undefined));
    s.once('connect', () => {
      if (send) s.write(send);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got);
    });
    s.once('end', () => done(got || undefined));
  });
}

/** How to start one server and tell that it is up. */
interface Launch {
  /** Names the server in errors ('redis-server'). */
  name: string;
  cmd: string;
  args: string[];
  opts?: ProcOptions;
  /** What `ready` waits for, as the start-up timeout error says it ('answer PING'). */
  readyWhen: string;
  ready: () => Promise<boolean | undefined>;
  pollMs: number;
}

/**
 * The lifecycle the private servers share: one server process at a time on a
 * port of its own, started and then polled until it answers (within
 * START_TIMEOUT_MS, failing at once with its output when it exits), stopped
 * with SIGTERM (SIGKILL when it is not gone within STOP_TIMEOUT_MS) or killed,
 * and its temp dir deleted by `destroy()`.
 */
abstract class PrivateServer {
  readonly port: number;
  readonly #tempDir: string;
  #proc: Proc | undefined;

  protected constructor(port: number, tempDir: string) {
    this.port = port;
    this.#tempDir = tempDir;
  }

  get running(): boolean {
    return this.#proc?.alive ?? false;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.running ? this.#proc!.child.pid : undefined;
  }

  /** The last output of the server's latest run. */
  get output(): string {
    return this.#proc?.output ?? '';
  }

  abstract start(): Promise<void>;

  /**
   * Spawns the server (unless one runs already) and resolves once `ready` says
   * so, polled every `pollMs`; rejects with the server's output when it exits
   * first, or when START_TIMEOUT_MS pass.
   */
  protected async launch({ name, cmd, args, opts = {}, readyWhen, ready, pollMs }: Launch): Promise<void> {
    if (this.running) return;
    const p = new Proc(cmd, args, opts);
    this.#proc = p;
    await waitFor(`private ${name} on ${this.port} to ${readyWhen}`, async () => {
      p.assertAlive(name);
      return ready();
    }, START_TIMEOUT_MS, pollMs);
  }

  /** Sends `signal` to the server and waits for its exit (SIGKILL after STOP_TIMEOUT_MS); nothing when it is not running. */
  protected async signal(signal: NodeJS.Signals): Promise<void> {
    await this.#proc?.stop(signal);
  }

  /** SIGTERM and waits for the exit. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** SIGKILL: a crash. Waits until the process is gone. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** How `destroy()` ends the server: a kill, unless a subclass says otherwise. */
  protected async halt(): Promise<void> {
    await this.kill();
  }

  /** Ends the server and deletes its temp dir. */
  async destroy(): Promise<void> {
    await this.halt();
    removeTempDir(this.#tempDir);
  }
}

/**
 * A private nats-server with JetStream; its store dir survives stop/kill/restart.
 * stop() is a clean shutdown (SIGTERM: JetStream flushes its store).
 */
export class PrivateNats extends PrivateServer {
  readonly storeDir: string;

  private constructor(port: number, dir: string) {
    super(port, dir);
    this.storeDir = dir;
  }

  /** Picks a free port and a temp store dir; does not start (call start()). */
  static async create(): Promise<PrivateNats> {
    return new PrivateNats(await freePort(), makeTempDir('nats'));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts it and waits until a client connect gets an INFO that says JetStream is on. */
  async start(): Promise<void> {
    await this.launch({
      name: 'nats-server',
      cmd: 'nats-server',
      args: ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir],
      readyWhen: 'answer',
      ready: async () => {
        const info = await hello(this.port, undefined, 500);
        return info?.startsWith('INFO') && /"jetstream":\s*true/.test(info);
      },
      pollMs: 25,
    });
  }

  /** stop() then start() on the same port with the same store dir. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** A private redis-server without persistence (--save ""): every start is empty. */
export class PrivateRedis extends PrivateServer {
  readonly dir: string;

  private constructor(port: number, dir: string) {
    super(port, dir);
    this.dir = dir;
  }

  static async create(): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort(), makeTempDir('redis'));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True when the server answers PING with PONG within timeoutMs. */
  async ping(timeoutMs = 500): Promise<boolean> {
    return (await hello(this.port, 'PING\r\n', timeoutMs))?.startsWith('+PONG') ?? false;
  }

  /** Starts it and waits until it answers PING. */
  async start(): Promise<void> {
    await this.launch({
      name: 'redis-server',
      cmd: 'redis-server',
      args: ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir],
      readyWhen: 'answer PING',
      ready: () => this.ping(),
      pollMs: 25,
    });
  }

  /** stop() then start(): the server comes back on the same port, empty. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** uid/gid of the `postgres` OS user, when this process runs as root (initdb and postgres refuse root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function run(cmd: string, args: string[], opts: { uid?: number; gid?: number; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { uid: opts.uid, gid: opts.gid, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/**
 * A private Postgres 15 cluster: initdb in a temp dir (owned by the `postgres`
 * OS user when we run as root), trust auth, 127.0.0.1 on a port of its own, the
 * unix socket in the temp dir, durability off for speed. The server runs in the
 * foreground as this process's child, so a crash (kill()) is a real SIGKILL.
 */
export class PrivatePostgres extends PrivateServer {
  readonly dir: string;
  readonly dataDir: string;
  readonly #user: { uid: number; gid: number } | undefined;
  #initialized = false;

  private constructor(port: number, dir: string) {
    super(port, dir);
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.#user = postgresUser();
    if (this.#user) chownSync(dir, this.#user.uid, this.#user.gid);
  }

  static async create(): Promise<PrivatePostgres> {
    return new PrivatePostgres(await freePort(), makeTempDir('pg'));
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** True when the server accepts connections (pg_isready exit 0). */
  async isReady(timeoutS = 1): Promise<boolean> {
    const r = await run(`${PG_BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(this.port), '-t', String(timeoutS), '-U', 'postgres', '-d', 'postgres'], { timeoutMs: (timeoutS + 2) * 1000 });
    return r.code === 0;
  }

  async #initdb(): Promise<void> {
    const r = await run(`${PG_BIN}/initdb`, [
      '-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ], { ...this.#user, cwd: this.dir, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`initdb in ${this.dataDir} failed (exit ${r.code}): ${r.out.slice(-2000)}`);
    this.#initialized = true;
  }

  /** initdb on the first start; then the server, waited for with pg_isready. */
  async start(): Promise<void> {
    if (this.running) return;
    if (!this.#initialized) await this.#initdb();
    await this.launch({
      name: 'postgres',
      cmd: `${PG_BIN}/postgres`,
      args: [
        '-D', this.dataDir,
        '-p', String(this.port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${this.dir}`,
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=32MB',
        '-c', 'max_connections=100',
        '-c', 'jit=off',
        '-c', 'log_min_messages=warning',
      ],
      opts: { ...this.#user, cwd: this.dir },
      readyWhen: 'accept connections',
      ready: () => this.isReady(),
      pollMs: 50,
    });
  }

  /** `pg_ctl stop -m fast` (as the postgres user) and waits for the server to exit. */
  override async stop(): Promise<void> {
    if (!this.running) return;
    const r = await run(`${PG_BIN}/pg_ctl`, ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '15'], { ...this.#user, cwd: this.dir, timeoutMs: 20_000 });
    if (r.code !== 0 && this.running) {
      // pg_ctl could not do it (no pid file yet?): a fast shutdown is SIGINT to the postmaster.
      await this.signal('SIGINT');
    }
    await this.signal('SIGTERM'); // returns at once when it has exited; else waits, then SIGKILL
  }

  /** SIGKILL of the postmaster: a crash (recovery runs at the next start). */
  override async kill(): Promise<void> {
    await super.kill();
    // Its backends notice the postmaster is gone and exit on their own; wait for the port to close.
    await waitFor('the killed postgres backends to go', async () => !(await this.isReady()), 10_000, 50).catch(() => undefined);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** A clean stop while it runs (a kill when that fails). */
  protected override async halt(): Promise<void> {
    if (this.running) await this.stop().catch(() => this.kill());
  }
}

/** One private server of each kind, started together; `destroy()` stops them all and deletes their dirs. */
export async function startPrivateServers(): Promise<{ nats: PrivateNats; redis: PrivateRedis; postgres: PrivatePostgres; destroy(): Promise<void> }> {
  const [nats, redis, postgres] = await Promise.all([PrivateNats.create(), PrivateRedis.create(), PrivatePostgres.create()]);
  const destroy = async () => {
    await Promise.allSettled([nats.destroy(), redis.destroy(), postgres.destroy()]);
  };
  try {
    await Promise.all([nats.start(), redis.start(), postgres.start()]);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { nats, redis, postgres, destroy };
}
