#!/usr/bin/env node
/**
 * `npm start`: checks that NATS, Redis and Postgres answer, starts tiering
 * (which applies the migrations), ingest and the gateway, waits until the
 * gateway is ready, starts a demo fleet of trading agents in-process, and
 * prints where to look. Ctrl-C stops everything.
 *
 * It supervises the services: one that exits (a crash, a kill) is started
 * again with the same environment after a backoff (scripts/supervisor.mjs),
 * with one line saying so and one with the new pid. Only Ctrl-C stops the
 * stack; the one exception is a service that exits with code 2 (a bad
 * configuration) before the stack is ready, since restarting cannot help.
 *
 * With the demo, ingest and the gateway run with the demo's scope policy
 * (FB_SCOPE_POLICY: each team's lead writes team memories, the risk desk
 * fleet memories) unless FB_SCOPE_POLICY or FB_SCOPE_POLICY_FILE is set, in
 * which case that one is used, unchanged.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describeExit, formatDelay, Supervisor } from './supervisor.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;

const USAGE = `Usage: npm start [-- options]   (or: node scripts/start.mjs [options])

Starts the farmbrain services (tiering, ingest, gateway) and a demo fleet of
simulated trading agents. NATS, Redis and Postgres must already be running.
A service that exits is restarted (after 0.5 s, 1 s, 2 s … up to 30 s);
Ctrl-C stops everything.

Options:
  --no-demo      do not start the demo fleet
  --agents N     number of demo agents (default 6)
  --port P       gateway port (default FB_GATEWAY_PORT or 8080)
  --help         show this help

Environment:
  NATS_URL       default nats://127.0.0.1:4222
  REDIS_URL      default redis://127.0.0.1:6379
  DATABASE_URL   default postgres://postgres@127.0.0.1:5432/test
  FB_NAMESPACE   default fb         (streams, Redis keys and Postgres schema)
  FB_PARTITIONS  default 8
  FB_GATEWAY_HOST / FB_GATEWAY_PORT  default 127.0.0.1 / 8080
  LOG_LEVEL      default info
  FB_SCOPE_POLICY, FB_SCOPE_POLICY_FILE
                 who may write team and fleet memories (JSON). Default with the
                 demo: each team's lead its team, risk-desk the fleet; set either
                 (even empty) to use your own instead
  FB_DEMO_TICK_MS, FB_DEMO_SEED      demo fleet speed (default 500) and seed (default 42)

Everything is kept in the namespace across runs (the demo's agents recall what
earlier runs remembered); pick another FB_NAMESPACE to start from scratch.
`;

// ---------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const o = { demo: true, agents: 6, port: undefined, help: false };
  const value = (i, name) => {
    const a = argv[i];
    const eq = a.indexOf('=');
    if (eq >= 0) return [a.slice(eq + 1), i];
    if (i + 1 >= argv.length) usageError(`${name} needs a value`);
    return [argv[i + 1], i + 1];
  };
  const integer = (v, name, min, max) => {
    const n = Number(v);
    if (v === '' || !Number.isInteger(n) || n < min || n > max) usageError(`${name} must be an integer from ${min} to ${max}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.split('=')[0];
    if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--no-demo') o.demo = false;
    else if (name === '--agents') {
      let v;
      [v, i] = value(i, name);
      o.agents = integer(v, '--agents', 0, 200);
      if (o.agents === 0) o.demo = false;
    } else if (name === '--port') {
      let v;
      [v, i] = value(i, name);
      o.port = integer(v, '--port', 1, 65535);
    } else usageError(`unknown option '${a}'`);
  }
  return o;
}

function usageError(msg) {
  process.stderr.write(`start: ${msg}. Run with --help for the options.\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Output: one prefixed, compact line per log entry

const useColor = env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : Boolean(process.stdout.isTTY) && !env.NO_COLOR;
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const c = { dim: paint('2'), bold: paint('1'), red: paint('31'), yellow: paint('33'), green: paint('32'), cyan: paint('36'), magenta: paint('35'), blue: paint('34') };
const SERVICE_COLOR = { tiering: c.cyan, ingest: c.magenta, gateway: c.green, demo: c.yellow, start: c.blue };
const LEVELS = { 10: ['TRACE', c.dim], 20: ['DEBUG', c.dim], 30: ['INFO ', (s) => s], 40: ['WARN ', c.yellow], 50: ['ERROR', c.red], 60: ['FATAL', c.red] };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'name', 'msg', 'v', 'reqId']);

const clock = (t = Date.now()) => new Date(t).toTimeString().slice(0, 8);
const prefix = (name, t) => `${c.dim(clock(t))} ${(SERVICE_COLOR[name] ?? ((s) => s))(name.padEnd(7))} ${c.dim('│')} `;
const out = (name, text, t) => process.stdout.write(`${prefix(name, t)}${text}\n`);
const say = (text) => out('start', text);

const short = (v, max = 100) => {
  let s = typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
  if (s === undefined) s = String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** A pino JSON line as `LEVEL msg k=v ...`; anything else as is. */
function pretty(line) {
  if (!line.startsWith('{')) return { text: line };
  let j;
  try {
    j = JSON.parse(line);
  } catch {
    return { text: line };
  }
  if (typeof j !== 'object' || j === null || typeof j.level !== 'number') return { text: line };
  const [label, color] = LEVELS[j.level] ?? [String(j.level).padEnd(5), (s) => s];
  const fields = [];
  for (const [k, v] of Object.entries(j)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object') fields.push(`err=${short(`${v.type ?? 'Error'}: ${v.message ?? ''}`, 240)}`);
    else fields.push(`${k}=${short(v)}`);
    if (fields.length >= 6) break;
  }
  const text = `${color(label)} ${j.msg ?? ''}${fields.length ? ` ${c.dim(fields.join(' '))}` : ''}`;
  return { text, time: typeof j.time === 'number' ? j.time : undefined, msg: j.msg };
}

// ---------------------------------------------------------------------------
// Backing services: a quick TCP connect each, before spawning anything

const HINTS = {
  nats: { label: 'NATS', envVar: 'NATS_URL', port: 4222, cmd: 'nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &' },
  redis: { label: 'Redis', envVar: 'REDIS_URL', port: 6379, cmd: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no' },
  postgres: { label: 'PostgreSQL', envVar: 'DATABASE_URL', port: 5432, cmd: 'pg_ctlcluster --skip-systemctl-redirect 15 main start' },
};

/** Where to connect for a service URL: { host, port } or { path } (a Postgres unix socket). */
function target(kind, url) {
  let raw = url.split(',')[0].trim();
  if (!raw.includes('://')) raw = `${kind === 'postgres' ? 'postgres' : kind}://${raw}`;
  const u = new URL(raw);
  const port = Number(u.port) || HINTS[kind].port;
  const hostParam = u.searchParams.get('host');
  if (kind === 'postgres' && ((hostParam && hostParam.startsWith('/')) || u.hostname === '')) {
    return { path: `${hostParam || '/var/run/postgresql'}/.s.PGSQL.${port}`, where: `${hostParam || '/var/run/postgresql'} (port ${port})` };
  }
  const host = (hostParam || u.hostname).replace(/^\[|\]$/g, '');
  return { host, port, where: `${host}:${port}` };
}

/**
 * A quick connect (and, with `kind`, a one-line protocol hello, so that a proxy
 * or another server on the port is not taken for the real thing). Resolves
 * undefined when it answers, else the error.
 */
function probe(opts, timeoutMs = 1500, kind) {
  return new Promise((resolve) => {
    const s = net.connect(opts.path ? { path: opts.path } : { host: opts.host, port: opts.port });
    let got = Buffer.alloc(0);
    const done = (err) => {
      clearTimeout(timer);
      s.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    s.once('error', (err) => done(err));
    s.once('connect', () => {
      if (!kind) return done(undefined);
      if (kind === 'redis') s.write('PING\r\n');
      if (kind === 'postgres') s.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])); // SSLRequest: the server answers S or N
    });
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      const text = got.toString('latin1');
      const ok = kind === 'nats' ? text.startsWith('INFO') : kind === 'redis' ? /^[+-]/.test(text) : /^[SNE]/.test(text);
      if (ok) return done(undefined);
      if (kind === 'nats' && got.length < 4 && 'INFO'.startsWith(text)) return;
      done(new Error(`something answers there, but not as ${HINTS[kind].label} (it said ${JSON.stringify(text.slice(0, 24))})`));
    });
    s.once('end', () => done(new Error('the connection was closed without an answer')));
  });
}

const reason = (err) => (err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOENT' ? 'no such socket' : err.code ?? err.message);

async function checkBackingServices() {
  const urls = {
    nats: env.NATS_URL || 'nats://127.0.0.1:4222',
    redis: env.REDIS_URL || 'redis://127.0.0.1:6379',
    postgres: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  };
  const results = await Promise.all(Object.entries(urls).map(async ([kind, url]) => {
    let t;
    try {
      t = target(kind, url);
    } catch {
      return { kind, url, err: new Error(`${HINTS[kind].envVar}='${url}' is not a valid URL`), bad: true };
    }
    return { kind, url, t, err: await probe(t, 1500, kind) };
  }));
  const down = results.filter((r) => r.err);
  if (down.length === 0) return urls;
  for (const r of down) {
    const h = HINTS[r.kind];
    if (r.bad) {
      process.stderr.write(`\n${c.red('✗')} ${h.label}: ${r.err.message}\n`);
      continue;
    }
    const custom = env[h.envVar] ? ` (${h.envVar}=${r.url})` : '';
    process.stderr.write(`\n${c.red('✗')} ${c.bold(h.label)} is not reachable at ${r.t.where}${custom}: ${reason(r.err)}\n`);
    process.stderr.write(`  Start it with:\n    ${h.cmd}\n`);
    const isDefault = r.t.port === h.port && ['127.0.0.1', 'localhost'].includes(r.t.host);
    if (!isDefault) process.stderr.write(`  (that listens on 127.0.0.1:${h.port}; or point ${h.envVar} at a running ${h.label})\n`);
  }
  process.stderr.write(`\nfarmbrain: cannot start: ${down.map((r) => HINTS[r.kind].label).join(', ')} ${down.length > 1 ? 'are' : 'is'} not reachable. Start ${down.length > 1 ? 'them' : 'it'}, then run npm start again.\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Children: each service is supervised. A process that exits is started again
// (same environment) after a backoff; only Ctrl-C stops the stack.

const SERVICES = ['tiering', 'ingest', 'gateway'];
/**
 * name -> { name, supervisor, proc, pid, tail: string[] (this process's output),
 *           alive, exited: Promise<{code, signal, err?}>, startedAt, timer }
 * `proc`, `pid`, `tail` and `exited` are those of the latest process.
 */
const children = new Map();
let shuttingDown = false;
let stackReady = false; // every service answered once: from then on nothing stops the stack but Ctrl-C
let fleet;
let pipeline; // where the fleet publishes: { natsUrl, namespace, partitions }
let stopRequested;
const stopping = new Promise((r) => (stopRequested = r));

const phase = () => (shuttingDown ? 'stopping' : stackReady ? 'running' : 'starting');

/** Starts a service and keeps it running. `onLine` sees every output line of every process. */
function superviseService(name, childEnv, onLine) {
  const ch = { name, supervisor: new Supervisor(), tail: [], alive: false, timer: undefined };
  children.set(name, ch);
  runService(ch, Object.freeze({ ...childEnv }), onLine);
  return ch;
}

function runService(ch, childEnv, onLine) {
  const { name } = ch;
  const script = join(ROOT, 'services', name, 'dist', 'main.js');
  const proc = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C reaches only this script, which then
    // stops the fleet first and sends each service a single SIGTERM.
    detached: true,
  });
  const first = ch.supervisor.restarts === 0;
  Object.assign(ch, { proc, pid: proc.pid, tail: [], alive: true, startedAt: Date.now(), timer: undefined });
  const tail = ch.tail;
  const take = (stream, isErr) => {
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (line === '') return;
      const p = pretty(line);
      tail.push(p.text);
      if (tail.length > 15) tail.shift();
      out(name, isErr && !p.time ? c.red(p.text) : p.text, p.time);
      onLine?.(p, line);
    });
  };
  take(proc.stdout, false);
  take(proc.stderr, true);
  if (proc.pid !== undefined) say(`${name} ${first ? 'started' : 'restarted'} (pid ${proc.pid})`);
  ch.exited = new Promise((resolve) => {
    proc.once('error', (err) => {
      ch.alive = false;
      tail.push(`spawn failed: ${err.message}`);
      resolve({ code: null, signal: null, err });
    });
    // 'close' comes after the output pipes are drained, so the tail is complete.
    proc.once('close', (code, signal) => {
      ch.alive = false;
      resolve({ code, signal });
    });
  });
  void ch.exited.then((r) => {
    const decision = ch.supervisor.exited({ ...r, upMs: Date.now() - ch.startedAt }, phase());
    const how = `${describeExit(r)}${ch.pid !== undefined ? ` (pid ${ch.pid})` : ''}`;
    if (decision.action === 'none') return;
    if (decision.action === 'stop') {
      process.stderr.write(`\n${c.red('✗')} ${c.bold(name)} ${how}: ${decision.why}.${lastLines(ch)}\n`);
      void shutdown(1, `${name} cannot start`);
      return;
    }
    say(`${c.red('✗')} ${c.bold(name)} ${how}; restarting in ${formatDelay(decision.delayMs)} (restart ${decision.restart})`);
    if (ch.tail.length) process.stdout.write(`${lastLines(ch, 5).replace(/^\n/, '')}\n`);
    ch.timer = setTimeout(() => {
      ch.timer = undefined;
      if (!shuttingDown) runService(ch, childEnv, onLine);
    }, decision.delayMs);
  });
}

const lastLines = (ch, n = 10) =>
  ch.tail.length ? `\n  Its last output:\n${ch.tail.slice(-n).map((l) => `    ${l.length > 400 ? `${l.slice(0, 400)}…` : l}`).join('\n')}` : ' It printed nothing.';

const restartedNote = (ch) => (ch.supervisor.restarts ? ` (restarted ${ch.supervisor.restarts} time${ch.supervisor.restarts > 1 ? 's' : ''})` : '');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function getJson(host, port, path, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.code ?? err.message }));
  });
}

/**
 * Waits (up to timeoutMs) until ingest and tiering have consumed everything in
 * their streams, so the last events the fleet flushed are projected before the
 * services stop. Returns the messages still pending.
 */
async function waitForPipeline(natsUrl, namespace, partitions, timeoutMs) {
  const [{ connect }, { jetstreamManager }, { names }] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@nats-io/jetstream'),
    import('@farmbrain/contracts'),
  ]);
  const n = names(namespace, partitions);
  const nc = await connect({ servers: natsUrl.split(','), name: 'farmbrain-start', timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let left = 0;
      for (const [stream, service] of [[n.ingressStream, 'ingest_'], [n.eventsStream, 'tiering_']]) {
        for await (const ci of jsm.consumers.list(stream)) {
          if (ci.name.startsWith(service)) left += ci.num_pending + ci.num_ack_pending;
        }
      }
      if (left === 0 || Date.now() > deadline) return left;
      await sleep(100);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function shutdown(code, why) {
  if (shuttingDown) return;
  shuttingDown = true;
  stopRequested();
  // No restart from here on: pending ones are dropped, and an exit now is final.
  for (const ch of children.values()) clearTimeout(ch.timer);
  say(`${why}: shutting down…`);
  if (fleet) {
    say('stopping the demo fleet (flushing its events)…');
    const stopped = await Promise.race([
      fleet.stop().then(() => true, (err) => (say(c.red(`demo fleet stop failed: ${err?.message ?? err}`)), true)),
      sleep(15_000).then(() => false),
    ]);
    if (!stopped) say(c.yellow('the demo fleet did not stop within 15 s; going on'));
    else if (code === 0 && pipeline) {
      const left = await waitForPipeline(pipeline.natsUrl, pipeline.namespace, pipeline.partitions, 5000).catch(() => -1);
      if (left > 0) say(c.yellow(`${left} messages not yet projected; the services pick them up at the next start`));
    }
  }
  const alive = [...children.values()].filter((ch) => ch.alive);
  for (const ch of alive) ch.proc.kill('SIGTERM');
  const all = Promise.all(alive.map((ch) => ch.exited));
  const done = await Promise.race([all.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    for (const ch of alive) {
      if (ch.alive) {
        say(c.yellow(`${ch.name} did not stop within 5 s: killing it`));
        ch.proc.kill('SIGKILL');
      }
    }
    await Promise.race([all, sleep(2000)]);
  }
  for (const ch of alive) {
    const r = await Promise.race([ch.exited, sleep(0).then(() => undefined)]);
    if (r && r.code !== 0 && r.code !== null) say(c.yellow(`${ch.name} exited with code ${r.code}`));
  }
  say(code === 0 ? 'stopped.' : `stopped (exit ${code}).`);
  process.exit(code);
}

function forceExit() {
  process.stderr.write('\nforced exit: killing the services\n');
  for (const ch of children.values()) if (ch.alive) ch.proc.kill('SIGKILL');
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Scope policy: who may write team and fleet memories (ingest and the gateway)

/** `fleet ← risk-desk; team:momentum ← momo-1` */
function describePolicy(p) {
  const w = Object.entries(p.writers ?? {}).map(([scope, ids]) => `${scope} ← ${ids.length ? ids.join(', ') : 'nobody'}`);
  const t = Object.entries(p.teams ?? {}).map(([team, ids]) => `team ${team} = ${ids.join(', ')}`);
  return w.length || t.length ? [...w, ...t].join('; ') : 'no writers: team and fleet memories are read-only';
}

/**
 * The policy the services get: the user's (FB_SCOPE_POLICY or
 * FB_SCOPE_POLICY_FILE set, even empty), passed through unchanged after the
 * same check the services make; else the demo's, when the demo runs; else none.
 * Returns { policy, env: extra child environment, label } or exits on a bad policy.
 */
async function resolveScopePolicy(demo, agents) {
  if (env.FB_SCOPE_POLICY !== undefined || env.FB_SCOPE_POLICY_FILE !== undefined) {
    const { loadScopePolicy } = await import('@farmbrain/platform');
    let policy;
    try {
      policy = loadScopePolicy(env);
    } catch (err) {
      process.stderr.write(`farmbrain: cannot start: the scope policy is invalid: ${err?.message ?? err}\n`);
      process.exit(1);
    }
    const file = env.FB_SCOPE_POLICY_FILE;
    // The services run in the repository root: a relative file name stays the one meant here.
    const extra = file ? { FB_SCOPE_POLICY_FILE: resolve(file) } : {};
    return { policy, env: extra, label: `yours (${file ? `FB_SCOPE_POLICY_FILE=${file}` : 'FB_SCOPE_POLICY'}): ${describePolicy(policy)}` };
  }
  if (!demo) return { policy: undefined, env: {}, label: 'none (set FB_SCOPE_POLICY to let agents write team and fleet memories)' };
  const policy = demo.demoScopePolicy(agents);
  return { policy, env: { FB_SCOPE_POLICY: JSON.stringify(policy) }, label: `demo: ${describePolicy(policy)}` };
}

// ---------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  for (const name of SERVICES) {
    if (!existsSync(join(ROOT, 'services', name, 'dist', 'main.js'))) {
      process.stderr.write(`farmbrain: services/${name}/dist/main.js is missing: build first with npm run build (npm start builds, then runs this).\n`);
      process.exit(1);
    }
  }
  const urls = await checkBackingServices();

  const port = opts.port ?? (Number(env.FB_GATEWAY_PORT) || 8080);
  const bindHost = env.FB_GATEWAY_HOST || '127.0.0.1';
  const host = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
  const namespace = env.FB_NAMESPACE || 'fb';
  const partitions = Number(env.FB_PARTITIONS || 8);
  if (!(await probe({ host, port }, 1000))) {
    process.stderr.write(`farmbrain: cannot start: port ${port} on ${host} is already in use (another gateway?). Stop it, or pick another port with --port N.\n`);
    process.exit(1);
  }
  const demo = opts.demo ? await import('./demo-fleet.mjs') : undefined;
  const scopes = await resolveScopePolicy(demo, opts.agents);
  const childEnv = { ...env, ...scopes.env, FB_GATEWAY_PORT: String(port) };

  let firstSignalAt = 0;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      // A second Ctrl-C forces; the same Ctrl-C delivered twice (the terminal
      // and a forwarding parent such as npm) within a moment does not.
      if (firstSignalAt) {
        if (Date.now() - firstSignalAt > 1000) forceExit();
        return;
      }
      firstSignalAt = Date.now();
      process.stdout.write('\n');
      void shutdown(0, `${sig} received (press Ctrl-C again to force)`);
    });
  }

  say(`starting farmbrain: namespace ${namespace}, ${partitions} partitions; NATS ${urls.nats}, Redis ${urls.redis.replace(/\/\/[^@/]*@/, '//***@')}, Postgres ${urls.postgres.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}`);
  say(`scope policy ${scopes.label}`);

  // 1. tiering: applies the migrations, then reports it is running.
  const t0 = Date.now();
  let tieringUp;
  const tieringRunning = new Promise((r) => (tieringUp = r));
  // A crash meanwhile is restarted (the bound below still holds); a bad
  // configuration (exit code 2) stops everything, from the exit handler.
  const tiering = superviseService('tiering', childEnv, (p) => {
    if (p.msg === 'tiering running') tieringUp(true);
  });
  const ok = await Promise.race([tieringRunning, stopping.then(() => false), sleep(30_000).then(() => null)]);
  if (shuttingDown || ok === false) return;
  if (ok === null) {
    process.stderr.write(`\n${c.red('✗')} tiering did not finish starting (migrations, streams, consumers) within 30 s${restartedNote(tiering)}.${lastLines(tiering)}\n`);
    return shutdown(1, 'start-up timed out');
  }

  // 2. ingest and the gateway; the gateway's /readyz says when everything answers.
  superviseService('ingest', childEnv);
  const gateway = superviseService('gateway', childEnv);
  let last = { status: 0, body: '' };
  const deadline = Date.now() + 30_000;
  while (!shuttingDown) {
    last = await getJson(host, port, '/readyz');
    if (last.status === 200 || shuttingDown) break;
    if (Date.now() > deadline) {
      const detail = last.status ? `last answer ${last.status} ${last.body}` : `no answer (${last.body})`;
      process.stderr.write(`\n${c.red('✗')} the gateway was not ready within 30 s${restartedNote(gateway)}: ${detail}.${lastLines(gateway)}\n`);
      return shutdown(1, 'start-up timed out');
    }
    await sleep(250);
  }
  if (shuttingDown) return;
  stackReady = true;
  say(c.green(`all services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`));

  // 3. the demo fleet, in this process.
  if (demo) {
    pipeline = { natsUrl: urls.nats, namespace, partitions };
    try {
      fleet = await demo.startDemoFleet({
        natsUrl: urls.nats,
        namespace,
        partitions,
        gateway: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        scopePolicy: scopes.policy,
        agents: opts.agents,
        tickMs: Number(env.FB_DEMO_TICK_MS) || 500,
        seed: Number(env.FB_DEMO_SEED) || 42,
        log: (msg) => out('demo', String(msg)),
      });
    } catch (err) {
      process.stderr.write(`\n${c.red('✗')} the demo fleet could not start: ${err?.message ?? err}\n`);
      return shutdown(1, 'demo fleet failed');
    }
    if (shuttingDown) return;
  }

  banner({ host: bindHost === '0.0.0.0' || bindHost === '::' ? 'localhost' : bindHost, port, namespace, fleet, scopes });
}

function banner({ host, port, namespace, fleet, scopes }) {
  const base = `http://${host}:${port}`;
  const cu = `localhost:${port}`;
  const agents = fleet?.agents;
  const a = agents?.[0];
  const me = fleet?.roster?.find((r) => r.id === a);
  const symbol = me?.symbols?.[0] ?? 'BTC-USD';
  const id = a ?? '<agent-id>';
  const ex = (comment, ...cmd) => [`    ${c.dim(`# ${comment}`)}`, ...cmd.map((l, i) => `    ${i > 0 ? '  ' : ''}${l}${i < cmd.length - 1 ? ' \\' : ''}`)];
  const json = `-H 'content-type: application/json'`;
  // The current situation of the symbol, so the example finds near neighbours.
  let situation = [0.5, 0.1, 0.2, 0.6];
  try {
    situation = fleet?.situation?.(symbol) ?? situation;
  } catch {
    // keep the example vector
  }
  const lines = [
    '',
    c.bold('  farmbrain is running') + c.dim(`  (namespace ${namespace}, kept across runs)`),
    '',
    `  Gateway    ${c.cyan(base)}`,
    `  API docs   ${c.cyan(`${base}/docs`)}`,
    `  MCP        ${c.cyan(`${base}/mcp`)}  (Streamable HTTP, stateless; the agent is the Fb-Agent-Id header)`,
    agents
      ? `  Demo fleet ${agents.length} agents: ${agents.join(', ')}; and ${fleet.riskDesk} (fleet alerts, no trading)`
      : '  Demo fleet off (--no-demo): record events with the SDK or POST /v1/events',
    `  Scopes     ${scopes.label}`,
    '',
    '  Try:',
    `    curl ${cu}/v1/agents`,
    ...(a
      ? [
          `    curl ${cu}/v1/agents/${a}`,
          `    curl '${cu}/v1/agents/${a}/positions?status=closed'`,
          `    curl '${cu}/v1/agents/${a}/memories?kind=lesson'`,
        ]
      : [`    curl ${cu}/readyz`]),
    '',
    '  Memory:',
    ...ex(`recall: the memories most relevant to a query (own, team and fleet); recorded as ${id}'s recall`,
      `curl -s ${cu}/v1/agents/${id}/recall ${json}`,
      `-d '{"query":"${symbol} volatile lessons risk","k":5}'`),
    ...ex(`outcome-linked recall: past decisions in situations like [trend, volatility, funding, rsi/100], with P&L and win rate`,
      `curl -s ${cu}/v1/agents/${id}/recall/decisions ${json}`,
      `-d '{"situation":${JSON.stringify(situation)},"symbol":"${symbol}","k":5,"includeTeam":true}'`),
    ...ex('what a decision was based on: take a decisionId (entries cite a recall: recallIds) from the decisions list',
      `curl -s '${cu}/v1/agents/${id}/decisions?limit=5'`),
    `    curl -s ${cu}/v1/agents/${id}/decisions/<decisionId>/context`,
    ...ex('  or in one go, with jq: the latest decision that cites a recall',
      `D=$(curl -s '${cu}/v1/agents/${id}/decisions?limit=100' | jq -r '[.items[] | select(.recallIds != [])][0].decisionId')`,
      `&& curl -s ${cu}/v1/agents/${id}/decisions/$D/context`),
    ...ex(`MCP: the memory tools, as ${id}`,
      `curl -s ${cu}/mcp -H 'Fb-Agent-Id: ${id}' ${json} -H 'accept: application/json, text/event-stream'`,
      `-d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"recall","arguments":{"query":"${symbol} lessons","k":3}}}'`),
    `    ${c.dim('#   (method "tools/list" lists them: remember, recall, recall_similar_decisions, decision_context)')}`,
    '',
    c.bold('  Ctrl-C to stop.'),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`farmbrain: start failed: ${err?.stack ?? err}\n`);
  void shutdown(1, 'start failed');
});
