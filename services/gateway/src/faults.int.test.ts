import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { names as makeNames, newEventId, type Names } from '@farmbrain/contracts';
import { connectPostgres, connectRedis, type Pool } from '@farmbrain/platform';
import { FarmbrainAgent } from '@farmbrain/sdk';
import { readAgentViews } from '@farmbrain/store';
import { freePort, PrivateNats, PrivatePostgres, PrivateRedis, uniqueNamespace, waitFor } from '@farmbrain/testing';

/*
 * Fault injection on a whole deployment (issue [3/9]). farmbrain runs as
 * `farmbrain start --no-demo` (apps/cli) on private NATS, Redis and Postgres servers
 * (the machine's shared ones are never touched) while a small fleet of SDK
 * agents records decisions, trades, position closes and memories. One after the
 * other: Postgres is stopped for 60 s, Redis restarts empty, NATS restarts on
 * its store, ingest and tiering are SIGKILLed. Each phase first checks that the
 * fault really hit, then what the services promise while it lasts and after.
 * At the end every acknowledged event is in the warm store exactly once and each
 * agent's hot state equals the state rebuilt from Postgres.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES = ['ingest', 'tiering', 'gateway'] as const;
type Service = (typeof SERVICES)[number];
const PARTITIONS = 4;
const AGENTS = 6;
const TICK_MS = 120; // each agent records one event per tick: ~50 events/s in all
const POSTGRES_DOWN_MS = 60_000;
const REDIS_DOWN_MS = 10_000;
const NATS_DOWN_MS = 8_000;
const RECOVERY_MS = 30_000; // bound for "no service stays down"
const DETECT_MS = 2_000; // how soon /readyz must notice a dependency went away
const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A bound for Promise.race that does not keep the process alive after the race is won. */
const bound = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

// ---------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number; // 0: no answer (timeout or refused)
  at: number; // epoch ms when the request was sent
  ms: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the JSON of any route, read field by field
  error?: string;
}

async function get(url: string, timeoutMs: number): Promise<Answer> {
  const at = Date.now();
  const t0 = performance.now();
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: r.status, at, ms: performance.now() - t0, body };
  } catch (err) {
    return { status: 0, at, ms: performance.now() - t0, body: undefined, error: (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String((err as Error).cause ?? err) };
  }
}

/** `200 hot`, `503 POSTGRES_UNAVAILABLE`, `0 no answer …`: what an answer was, for tallies and messages. */
const outcome = (a: Answer) => `${a.status} ${a.status === 0 ? a.error : a.body?.source ?? a.body?.error?.code ?? a.body?.status ?? ''}`.trim();

function tally(answers: readonly Answer[]): string {
  const n = new Map<string, number>();
  for (const a of answers) n.set(outcome(a), (n.get(outcome(a)) ?? 0) + 1);
  return [...n].map(([k, v]) => `${k} ×${v}`).join(', ') || 'none';
}

// ---------------------------------------------------------------------------
// Processes (/proc: this runs on Linux)

/** State letter of a process (R, S, Z, …), or undefined when there is no such process. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}
const isAlive = (pid: number | undefined) => pid !== undefined && procState(pid) !== undefined && procState(pid) !== 'Z';

/** Live children of `parent` that run services/<service>/dist/main.js. */
function childServicePids(parent: number): Map<Service, number[]> {
  const out = new Map<Service, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== parent || fields[0] === 'Z') continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const svc = SERVICES.find((s) => cmd.includes(`services/${s}/dist/main.js`));
      if (svc) out.set(svc, [...(out.get(svc) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * `farmbrain start --no-demo` (apps/cli) as a child: its output is kept, and read
 * for each service's pid (`<service> started|restarted (pid N)`) and ops address
 * (`ops listening … address`).
 */
class Farmbrain {
  child: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();
  readonly lines: string[] = [];
  /** pids printed by farmbrain start, in order, per service. */
  readonly printedPids = new Map<Service, number[]>();
  /** Last ops address printed per service (ephemeral ports: it changes at each restart). */
  readonly opsUrl = new Map<Service, string>();
  starts = 0;

  constructor(readonly gatewayUrl: string, readonly port: number, readonly env: Record<string, string>) {}

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.starts++;
    this.opsUrl.clear();
    this.printedPids.clear();
    const env: Record<string, string | undefined> = { ...process.env, ...this.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    delete env.FB_GATEWAY_PORT;
    const child = spawn(process.execPath, ['apps/cli/dist/main.js', 'start', '--no-demo', '--port', String(this.port)], {
      cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    // Whatever ends this process (a failed hook, a cancelled test), farmbrain start and
    // its services (own process groups, so not reached by our exit) go with it.
    const reap = () => {
      if (!child.pid) return;
      for (const pid of [...childServicePids(child.pid).values()].flat()) process.kill(pid, 'SIGKILL');
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.once('exit', reap);
    void this.exited.then(() => process.off('exit', reap));
    let partial = '';
    const take = (b: Buffer) => {
      partial += b.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) this.#line(l.replace(/\x1b\[[0-9;]*m/g, ''));
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    await waitFor('farmbrain start: the gateway to be ready', async () => {
      if (!this.alive) throw new Error(`farmbrain start exited: ${this.tail()}`);
      return (await get(`${this.gatewayUrl}/readyz`, 1000)).status === 200;
    }, 90_000, 200);
  }

  #line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 5000) this.lines.shift();
    const started = /\b(ingest|tiering|gateway) (?:re)?started \(pid (\d+)\)/.exec(line);
    if (started) {
      const svc = started[1] as Service;
      this.printedPids.set(svc, [...(this.printedPids.get(svc) ?? []), Number(started[2])]);
    }
    if (line.includes('ops listening')) {
      const svc = SERVICES.find((s) => new RegExp(`^\\S*\\s*${s}\\b`).test(line) || line.includes(`"service":"${s}"`) || line.includes(`"name":"${s}"`));
      const at = line.slice(line.indexOf('ops listening'));
      const m = /(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|localhost)):(\d{2,5})/.exec(at) ?? /"port":\s*(\d{2,5})/.exec(at);
      const port = m ? (m.length > 2 ? m[3] : m[1]) : undefined;
      const host = m && m.length > 2 ? (m[1] ? `[${m[1]}]` : m[2] === '0.0.0.0' ? '127.0.0.1' : m[2]) : '127.0.0.1';
      if (svc && port) this.opsUrl.set(svc, `http://${host}:${port}`);
    }
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  /** The service's current pid: the last one farmbrain start printed, else found in /proc among its children. */
  pidOf(svc: Service): number | undefined {
    const printed = this.printedPids.get(svc);
    if (printed?.length) return printed[printed.length - 1];
    if (!this.child?.pid) return undefined;
    return childServicePids(this.child.pid).get(svc)?.[0];
  }

  /** True when farmbrain start printed a `<service> started (pid N)` line (else pids come from /proc). */
  printsPids(): boolean {
    return this.printedPids.size > 0;
  }

  /** SIGTERM (farmbrain start stops the services), bounded; then SIGKILL to whatever is left. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const pids = [...childServicePids(child.pid).values()].flat();
    if (this.alive) {
      child.kill('SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), bound(20_000).then(() => false)]);
      if (!done) child.kill('SIGKILL');
    }
    // The services run in process groups of their own: none may outlive the test.
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

// ---------------------------------------------------------------------------
// The fleet: SDK agents recording continuously; every event id is chosen here,
// so what was acknowledged (and what not) is known exactly.

type Kind = 'register' | 'decision' | 'trade' | 'close' | 'memory';
interface Sent {
  eventId: string;
  agentId: string;
  kind: Kind;
  state: 'pending' | 'acked' | 'rejected';
  ackedAt?: number;
  code?: string;
}

class Fleet {
  readonly sent = new Map<string, Sent>();
  readonly agents: FarmbrainAgent[];
  readonly #pending = new Set<Promise<unknown>>();
  #running = false;
  #loops: Promise<void>[] = [];
  closeErrors: string[] = [];

  constructor(natsUrl: string, namespace: string) {
    this.agents = Array.from({ length: AGENTS }, (_, a) => new FarmbrainAgent({
      agentId: `fault-${a}`, servers: natsUrl, namespace, partitions: PARTITIONS,
    }));
  }

  #track(agentId: string, kind: Kind, eventId: string, p: Promise<{ eventId: string }>): void {
    const s: Sent = { eventId, agentId, kind, state: 'pending' };
    this.sent.set(eventId, s);
    const q = p.then(
      (r) => {
        s.state = r.eventId === eventId ? 'acked' : 'rejected';
        if (r.eventId !== eventId) s.code = `receipt for another event id: ${r.eventId}`;
        s.ackedAt = Date.now();
      },
      (err: { code?: string; message?: string }) => {
        s.state = 'rejected';
        s.code = err.code ?? String(err.message ?? err);
      },
    );
    this.#pending.add(q);
    void q.finally(() => this.#pending.delete(q));
  }

  /** One event per tick per agent: decision → trade → (every other cycle) close → memory. */
  async #loop(agent: FarmbrainAgent, a: number): Promise<void> {
    const id = agent.agentId;
    const reg = newEventId();
    this.#track(id, 'register', reg, agent.register({ name: `Fault ${a}`, team: a % 2 ? 'odd' : 'even', strategy: 'fault-injection', config: { a } }, { eventId: reg }));
    for (let cycle = 0; this.#running; cycle++) {
      const symbol = SYMBOLS[(cycle + a) % SYMBOLS.length]!;
      const decisionId = newEventId();
      const steps: { kind: Kind; eventId: string; run: (eventId: string) => Promise<{ eventId: string }> }[] = [
        { kind: 'decision', eventId: decisionId, run: (eventId) => agent.recordDecision({ symbol, action: 'buy', size: 1, confidence: 0.6, rationale: `cycle ${cycle}`, situation: [cycle % 5, a] }, { eventId }) },
        { kind: 'trade', eventId: newEventId(), run: (eventId) => agent.recordTrade({ orderId: `o-${a}-${cycle}`, symbol, side: 'buy', qty: 1, price: 100 + cycle, fees: 0.1, decisionId }, { eventId }) },
      ];
      // Every other cycle closes the position the trade opened or added to; the others stay open.
      if (cycle % 2 === 1) {
        steps.push({ kind: 'close', eventId: newEventId(), run: (eventId) => agent.closePosition({ symbol, realizedPnl: (cycle % 7) - 3, exitPrice: 101 + cycle, decisionIds: [decisionId] }, { eventId }) });
      }
      steps.push({ kind: 'memory', eventId: newEventId(), run: (eventId) => agent.remember({ kind: 'observation', text: `cycle ${cycle} of ${id}: ${symbol} moved`, tags: [symbol], memoryId: newEventId() }, { eventId }) });
      for (const step of steps) {
        if (!this.#running) return;
        let p: Promise<{ eventId: string }>;
        try {
          p = step.run(step.eventId);
        } catch (err) {
          p = Promise.reject(err);
        }
        this.#track(id, step.kind, step.eventId, p);
        await sleep(TICK_MS); // the recording rate, not a wait for a condition
      }
    }
  }

  start(): void {
    this.#running = true;
    this.#loops = this.agents.map((agent, a) => this.#loop(agent, a));
  }

  /** Stops recording, waits for every outstanding record call, then closes (flushes) each agent. */
  async stop(): Promise<void> {
    if (!this.#running && this.#loops.length === 0) return;
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
    await Promise.race([Promise.allSettled([...this.#pending]), bound(60_000)]);
    const closed = await Promise.allSettled(this.agents.map((a) => a.close(30_000)));
    this.closeErrors = closed.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason?.message ?? r.reason));
  }

  acked(kind?: Kind): Sent[] {
    return [...this.sent.values()].filter((s) => s.state === 'acked' && (!kind || s.kind === kind));
  }

  lastAckAt(): number {
    return Math.max(0, ...this.acked().map((s) => s.ackedAt ?? 0));
  }
}

// ---------------------------------------------------------------------------
// The deployment under test

const nats = await PrivateNats.create();
const redis = await PrivateRedis.create();
const postgres = await PrivatePostgres.create();
const namespace = uniqueNamespace('faults');
const n: Names = makeNames(namespace, PARTITIONS);
const gatewayPort = await freePort();
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
const fb = new Farmbrain(gatewayUrl, gatewayPort, {
  NATS_URL: nats.url,
  REDIS_URL: redis.url,
  DATABASE_URL: postgres.url,
  FB_NAMESPACE: namespace,
  FB_PARTITIONS: String(PARTITIONS),
  FB_OPS_PORT: '0',
  LOG_LEVEL: 'info',
});
let fleet: Fleet;
let nc: NatsConnection;
let jsm: JetStreamManager;
const agentIds = Array.from({ length: AGENTS }, (_, a) => `fault-${a}`);

before(async () => {
  await Promise.all([nats.start(), redis.start(), postgres.start()]);
  await fb.start();
  nc = await connect({ servers: nats.url, name: 'faults-test', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  jsm = await jetstreamManager(nc, { timeout: 2000 });
  fleet = new Fleet(nats.url, namespace);
  fleet.start();
  // Warm-up: every agent registered, applied and served.
  let last: Answer | undefined;
  await waitFor('every agent to be served by the gateway', async () => {
    for (const id of agentIds) if ((last = await get(`${gatewayUrl}/v1/agents/${id}`, 2000)).status !== 200) return false;
    return true;
  }, 60_000, 250).catch((err: Error) => {
    const states = new Map<string, number>();
    for (const s of fleet.sent.values()) states.set(`${s.kind} ${s.state}${s.code ? ` ${s.code}` : ''}`, (states.get(`${s.kind} ${s.state}${s.code ? ` ${s.code}` : ''}`) ?? 0) + 1);
    throw new Error(`${err.message}; last answer ${last ? `${outcome(last)} ${JSON.stringify(last.body)?.slice(0, 300)}` : 'none'}; record calls: ${[...states].map(([k, v]) => `${k} ×${v}`).join(', ')}; farmbrain start output:\n${fb.tail(30)}`);
  });
});

after(async () => {
  await fleet?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await fb.stop().catch(() => undefined);
  await Promise.allSettled([nats.destroy(), redis.destroy(), postgres.destroy()]);
});

/**
 * Before each phase: the dependencies run and farmbrain start runs. If an earlier
 * phase left farmbrain start dead (that phase has failed for it), it is started again
 * so the later phases still observe their own behaviour.
 */
async function ensureUp(t: TestContext): Promise<void> {
  await Promise.all([nats.start(), redis.start(), postgres.start()]);
  if (!fb.alive) {
    t.diagnostic('farmbrain start was not running at the start of this phase (an earlier phase failed for it): starting it again');
    await fb.start();
  }
  await waitFor('the gateway to be ready before the fault', async () => (await get(`${gatewayUrl}/readyz`, 1000)).status === 200, RECOVERY_MS, 100);
}

/** Polls until /readyz is 200 again, within RECOVERY_MS; returns how long it took, or undefined. */
async function recovery(since: number): Promise<number | undefined> {
  const ok = await waitFor('the gateway /readyz to be 200 again', async () => (await get(`${gatewayUrl}/readyz`, 1000)).status === 200, RECOVERY_MS, 100).catch(() => false);
  return ok ? Date.now() - since : undefined;
}

const servicePids = () => Object.fromEntries(SERVICES.map((s) => [s, fb.pidOf(s)])) as Record<Service, number | undefined>;

/** The ops /readyz of ingest and tiering, when farmbrain start printed their addresses. */
async function opsReadyz(): Promise<Partial<Record<'ingest' | 'tiering', Answer>>> {
  const out: Partial<Record<'ingest' | 'tiering', Answer>> = {};
  for (const svc of ['ingest', 'tiering'] as const) {
    const url = fb.opsUrl.get(svc);
    if (url) out[svc] = await get(`${url}/readyz`, 1000);
  }
  return out;
}

interface Observed {
  readyz: Answer[];
  agent: Answer[];
  list: Answer[];
  ops: { ingest: Answer[]; tiering: Answer[] };
}
const newObserved = (): Observed => ({ readyz: [], agent: [], list: [], ops: { ingest: [], tiering: [] } });

/** One round of reads while a dependency is down. */
async function observe(o: Observed): Promise<void> {
  const [r, ops, ...agents] = await Promise.all([
    get(`${gatewayUrl}/readyz`, 1000),
    opsReadyz(),
    ...agentIds.map((id) => get(`${gatewayUrl}/v1/agents/${id}`, 5000)),
  ]);
  o.readyz.push(r);
  o.agent.push(...agents);
  o.list.push(await get(`${gatewayUrl}/v1/agents/${agentIds[0]}/decisions?limit=5`, 5000));
  if (ops.ingest) o.ops.ingest.push(ops.ingest);
  if (ops.tiering) o.ops.tiering.push(ops.tiering);
}

/** Observes every ~1 s until `untilMs` (epoch ms). */
async function observeUntil(o: Observed, untilMs: number): Promise<void> {
  while (Date.now() < untilMs) {
    const t0 = Date.now();
    await observe(o);
    await sleep(Math.max(0, Math.min(1000 - (Date.now() - t0), untilMs - Date.now())));
  }
}

/** The ops /readyz of ingest and tiering while `dep` is down: the same promise as the gateway's (see checkReadyz). */
async function checkOps(t: TestContext, o: Observed, dep: 'postgres' | 'redis' | 'nats', services: readonly ('ingest' | 'tiering')[], stoppedAt: number): Promise<void> {
  for (const svc of services) {
    await t.test(`${svc} /readyz on its ops port answers within 1 s, and from 2 s after the stop on says 503 with checks.${dep} false`, (st) => {
      const answers = o.ops[svc];
      if (answers.length === 0) {
        st.skip(`farmbrain start printed no "ops listening" address for ${svc} (ops endpoint not there yet?)`);
        return;
      }
      const slow = answers.filter((a) => a.status === 0 || a.ms > 1000);
      const settled = answers.filter((a) => a.at >= stoppedAt + DETECT_MS);
      const wrong = settled.filter((a) => !(a.status === 503 && a.body?.checks?.[dep] === false));
      assert.ok(settled.length > 0, `no ${svc} /readyz answer observed during the outage`);
      assert.deepEqual({ slow: slow.length, wrong: wrong.length }, { slow: 0, wrong: 0 },
        `${svc} /readyz, of ${answers.length}: ${tally(answers)}; e.g. ${JSON.stringify((wrong[0] ?? slow[0])?.body)}`);
    });
  }
}

/** What was seen during an outage, as test diagnostics (for the report). */
function describe(t: TestContext, what: string, o: Observed, recoveredIn: number | undefined): void {
  t.diagnostic(`${what}: /readyz ${tally(o.readyz)} (slowest ${Math.round(Math.max(0, ...o.readyz.map((a) => a.ms)))} ms)`);
  t.diagnostic(`${what}: GET /v1/agents/:id ${tally(o.agent)}; GET …/decisions ${tally(o.list)}`);
  t.diagnostic(`${what}: ops /readyz ingest ${tally(o.ops.ingest)}; tiering ${tally(o.ops.tiering)}`);
  t.diagnostic(`${what}: gateway /readyz 200 again ${recoveredIn === undefined ? 'never' : `after ${recoveredIn} ms`}`);
}

/**
 * The gateway's /readyz while `dep` is down: every answer within 1 s, and every
 * answer sent 2 s or more after the stop (the detection bound) is 503 with
 * checks.<dep> false.
 */
async function checkReadyz(t: TestContext, answers: readonly Answer[], dep: 'postgres' | 'redis' | 'nats', stoppedAt: number): Promise<void> {
  await t.test(`gateway /readyz answers within 1 s while ${dep} is down, and from 2 s after the stop on says 503 with checks.${dep} false`, () => {
    const slow = answers.filter((a) => a.status === 0 || a.ms > 1000);
    const settled = answers.filter((a) => a.at >= stoppedAt + DETECT_MS);
    const wrong = settled.filter((a) => !(a.status === 503 && a.body?.checks?.[dep] === false));
    assert.ok(settled.length > 0, 'no /readyz answer observed during the outage');
    assert.deepEqual({ slow: slow.length, wrong: wrong.length }, { slow: 0, wrong: 0 },
      `of ${answers.length}: ${tally(answers)}; e.g. ${JSON.stringify((wrong[0] ?? slow[0])?.body)} ${Math.round((wrong[0] ?? slow[0])?.ms ?? 0)} ms`);
  });
}

async function checkRecovered(t: TestContext, what: string, recoveredIn: number | undefined, pidsBefore: Record<Service, number | undefined>, expectSamePids: boolean): Promise<void> {
  await t.test(`after ${what}, the gateway /readyz is 200 again within ${RECOVERY_MS / 1000} s and farmbrain start still runs`, () => {
    assert.ok(fb.alive, `farmbrain start exited; its last output:\n${fb.tail()}`);
    assert.ok(recoveredIn !== undefined, `/readyz not 200 within ${RECOVERY_MS} ms: ${JSON.stringify(fb.lines.length ? fb.tail(15) : '')}`);
  });
  if (expectSamePids) {
    await t.test(`no service exited because of ${what} (same pids)`, () => {
      const now = servicePids();
      for (const s of SERVICES) assert.ok(isAlive(now[s]), `${s} is not running (pid ${now[s]}); farmbrain start output:\n${fb.tail(25)}`);
      assert.deepEqual(now, pidsBefore, `services restarted during ${what}; farmbrain start output:\n${fb.tail(25)}`);
    });
  }
}

// ---------------------------------------------------------------------------
// Phases

test('faults - Postgres stopped for 60 s: reads degrade to 503 POSTGRES_UNAVAILABLE or the hot tier, never 500, and everything recovers', async (t) => {
  await ensureUp(t);
  const pids = servicePids();
  const o = newObserved();
  let connectFailed = false;
  let firstDegraded: number | undefined;
  const readyzDuringFirst2s: Answer[] = [];
  let stoppedAt = 0;
  let recoveredIn: number | undefined;
  try {
    await postgres.stop();
    stoppedAt = Date.now();
    connectFailed = await connectPostgres(postgres.url, 'public', { max: 1 }).then(async (p) => (await p.end(), false), () => true);
    // Within 2 s of the stop, /readyz must say so.
    while (Date.now() - stoppedAt < 2000) {
      const a = await get(`${gatewayUrl}/readyz`, 1000);
      readyzDuringFirst2s.push(a);
      if (a.status === 503 && a.body?.checks?.postgres === false) {
        firstDegraded = Date.now() - stoppedAt;
        break;
      }
      await sleep(50);
    }
    await observeUntil(o, stoppedAt + POSTGRES_DOWN_MS);
  } finally {
    await postgres.start();
  }
  const startedAt = Date.now();
  recoveredIn = await recovery(startedAt);

  describe(t, 'postgres down', o, recoveredIn);
  t.diagnostic(`postgres down: /readyz said postgres false ${firstDegraded} ms after the stop`);
  await t.test('the fault hit: a direct connect to the stopped Postgres fails', () => assert.ok(connectFailed));
  await t.test('gateway /readyz answers within 1 s with 503 and checks.postgres false within 2 s of the stop', () => {
    assert.ok(firstDegraded !== undefined, `within 2 s: ${tally(readyzDuringFirst2s)}; last body ${JSON.stringify(readyzDuringFirst2s.at(-1)?.body)}`);
  });
  await checkReadyz(t, o.readyz, 'postgres', stoppedAt);
  await t.test('GET /v1/agents/:id answers 200 from the hot tier or 503 POSTGRES_UNAVAILABLE, never 500', () => {
    const wrong = o.agent.filter((a) => !((a.status === 200 && a.body?.source === 'hot') || (a.status === 503 && a.body?.error?.code === 'POSTGRES_UNAVAILABLE')));
    assert.equal(wrong.length, 0, `of ${o.agent.length}: ${tally(o.agent)}; e.g. ${JSON.stringify(wrong[0]?.body)?.slice(0, 300)}`);
  });
  await t.test('GET /v1/agents/:id/decisions answers 503 POSTGRES_UNAVAILABLE', () => {
    const wrong = o.list.filter((a) => !(a.status === 503 && a.body?.error?.code === 'POSTGRES_UNAVAILABLE'));
    assert.equal(wrong.length, 0, `of ${o.list.length}: ${tally(o.list)}; e.g. ${JSON.stringify(wrong[0]?.body)?.slice(0, 300)}`);
  });
  await checkOps(t, o, 'postgres', ['tiering'], stoppedAt);
  await checkRecovered(t, 'the Postgres outage', recoveredIn, pids, true);
});

test('faults - Redis restarted empty: while it is down reads come from Postgres, never 500, and everything recovers', async (t) => {
  await ensureUp(t);
  const pids = servicePids();
  const o = newObserved();
  // A sentinel key outside the namespace: gone after the restart only if the server really came back empty.
  const check = await connectRedis(redis.url, 'faults-test');
  const keysBefore = await check.dbsize();
  await check.set('faults-test:sentinel', '1');
  check.disconnect();
  const pidBefore = redis.pid;
  let pingFailed = false;
  let keysAfterStart = -1;
  let stoppedAt = 0;
  const decisionsNow = async () => (await (await pool()).query<{ n: number }>('SELECT count(*)::int AS n FROM decisions')).rows[0]!.n;
  let appliedWhileDown = 0;
  try {
    await redis.stop();
    stoppedAt = Date.now();
    pingFailed = !(await redis.ping());
    await new Promise((r) => setTimeout(r, 1000)); // tiering notices Redis is down
    const before = await decisionsNow();
    await observeUntil(o, stoppedAt + REDIS_DOWN_MS);
    appliedWhileDown = (await decisionsNow()) - before;
  } finally {
    await redis.start();
  }
  const startedAt = Date.now();
  const fresh = await connectRedis(redis.url, 'faults-test');
  const sentinelAfter = await fresh.exists('faults-test:sentinel');
  keysAfterStart = await fresh.dbsize();
  fresh.disconnect();
  const recoveredIn = await recovery(startedAt);

  describe(t, 'redis down', o, recoveredIn);
  await t.test('the fault hit: Redis had hot state, did not answer PING while stopped, and came back as a new, empty server', () => {
    assert.ok(keysBefore > 0, `hot keys before the restart: ${keysBefore}`);
    assert.ok(pingFailed, 'PING failed while stopped');
    assert.notEqual(redis.pid, pidBefore);
    assert.equal(sentinelAfter, 0, `the sentinel key survived the restart (keys right after the start: ${keysAfterStart}, before: ${keysBefore})`);
  });
  await t.test('GET /v1/agents/:id answers 200 from Postgres (source warm) while Redis is down, never 500', () => {
    const wrong = o.agent.filter((a) => !(a.status === 200 && a.body?.source === 'warm'));
    assert.equal(wrong.length, 0, `of ${o.agent.length}: ${tally(o.agent)}; e.g. ${JSON.stringify(wrong[0]?.body)?.slice(0, 300)}`);
  });
  await t.test('GET /v1/agents/:id/decisions answers 200 while Redis is down', () => {
    const wrong = o.list.filter((a) => a.status !== 200);
    assert.equal(wrong.length, 0, `of ${o.list.length}: ${tally(o.list)}`);
  });
  await t.test('Postgres keeps being projected while Redis is down (the hot copies catch up after)', () => {
    assert.ok(appliedWhileDown > 0, `decisions applied to Postgres while Redis was down: ${appliedWhileDown}`);
  });
  await checkReadyz(t, o.readyz, 'redis', stoppedAt);
  await checkOps(t, o, 'redis', ['tiering'], stoppedAt);
  await checkRecovered(t, 'the Redis restart', recoveredIn, pids, true);
});

test('faults - NATS restarted on its store: the streams survive, agents resume, and everything recovers', async (t) => {
  await ensureUp(t);
  const pids = servicePids();
  const o = newObserved();
  const before = (await jsm.streams.info(n.ingressStream)).state.messages;
  let refused = false;
  let stoppedAt = 0;
  try {
    await nats.stop();
    stoppedAt = Date.now();
    refused = await connect({ servers: nats.url, timeout: 500, maxReconnectAttempts: 0 }).then(async (c) => (await c.close(), false), () => true);
    await observeUntil(o, stoppedAt + NATS_DOWN_MS);
  } finally {
    await nats.start();
  }
  const startedAt = Date.now();
  const recoveredIn = await recovery(startedAt);
  const after = await waitFor('the ingress stream to be readable again', async () => (await jsm.streams.info(n.ingressStream)).state.messages, 15_000, 100).catch(() => -1);
  const resumed = await waitFor('an agent receipt after the restart', () => fleet.lastAckAt() > startedAt, 30_000, 100).catch(() => false);

  describe(t, 'nats down', o, recoveredIn);
  await t.test('the fault hit: nothing accepted a NATS connection while it was stopped', () => assert.ok(refused));
  await t.test('the ingress stream kept every message across the restart', () => {
    assert.ok(after >= before, `messages before ${before}, after ${after}`);
  });
  await t.test('agents get receipts again after the restart', () => assert.ok(resumed, `last receipt at ${new Date(fleet.lastAckAt()).toISOString()}, restart at ${new Date(startedAt).toISOString()}`));
  await checkReadyz(t, o.readyz, 'nats', stoppedAt);
  await t.test('reads never answer 500 while NATS is down', () => {
    const bad = [...o.agent, ...o.list].filter((a) => a.status >= 500 && a.status !== 503);
    assert.equal(bad.length, 0, tally([...o.agent, ...o.list]));
  });
  await checkOps(t, o, 'nats', ['ingest', 'tiering'], stoppedAt);
  await checkRecovered(t, 'the NATS restart', recoveredIn, pids, true);
});

for (const svc of ['ingest', 'tiering'] as const) {
  test(`faults - ${svc} SIGKILLed: farmbrain start restarts it and the pipeline moves on`, async (t) => {
    await ensureUp(t);
    const pid = fb.pidOf(svc);
    const printed = fb.printsPids();
    let gone = false;
    let next: number | undefined;
    let recoveredIn: number | undefined;
    let reached: string | false = false;
    if (pid !== undefined) {
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      gone = await waitFor(`${svc} (pid ${pid}) to be gone`, () => !isAlive(pid), 5000, 20).catch(() => false);
      next = await waitFor(`a new ${svc} pid`, () => {
        const p = fb.pidOf(svc);
        return p !== undefined && p !== pid && isAlive(p) ? p : false;
      }, RECOVERY_MS, 100).catch(() => undefined);
      recoveredIn = await recovery(killedAt);
      // A decision acknowledged after the new process appeared must reach Postgres: the pipeline runs through it.
      const since = Date.now();
      const fresh = await waitFor('a decision acknowledged after the restart', () => fleet.acked('decision').find((s) => (s.ackedAt ?? 0) > since), RECOVERY_MS, 50).catch(() => undefined);
      if (fresh) {
        const p = await pool();
        reached = await waitFor('that decision in Postgres', async () => ((await p.query('SELECT 1 FROM decisions WHERE event_id = $1', [fresh.eventId])).rowCount ? fresh.eventId : false), RECOVERY_MS, 100).catch(() => false);
      }
      t.diagnostic(`${svc}: pid ${pid} → ${next}; /readyz 200 again after ${recoveredIn} ms`);
    }

    await t.test(`the fault hit: ${svc}'s pid was known${printed ? ' (from farmbrain start output)' : ' (from /proc: farmbrain start printed no "<service> started (pid N)" line)'} and is gone after SIGKILL`, () => {
      assert.ok(pid !== undefined, `no pid for ${svc}; farmbrain start output:\n${fb.tail(20)}`);
      assert.ok(gone, `pid ${pid} still alive`);
    });
    await t.test(`a new ${svc} process appears within ${RECOVERY_MS / 1000} s`, () => {
      assert.ok(next !== undefined, `no new ${svc} pid; farmbrain start ${fb.alive ? 'runs' : 'exited'}; its output:\n${fb.tail(20)}`);
    });
    await t.test('a decision acknowledged after the restart reaches Postgres', () => assert.ok(reached, `none within ${RECOVERY_MS / 1000} s; farmbrain start output:\n${fb.tail(20)}`));
    await checkRecovered(t, `the ${svc} crash`, recoveredIn, servicePids(), false);
  });
}

// ---------------------------------------------------------------------------
// After recovery: nothing acknowledged lost or doubled; hot state = warm state

let verifyPool: Pool | undefined;
async function pool(): Promise<Pool> {
  verifyPool ??= await connectPostgres(postgres.url, n.pgSchema, { max: 2, name: 'faults-test' });
  return verifyPool;
}
after(() => verifyPool?.end());

/** Every consumer of ingest and tiering has nothing pending nor unacked. */
async function caughtUp(): Promise<boolean> {
  for (const [stream, svc] of [[n.ingressStream, 'ingest'], [n.eventsStream, 'tiering_v1']] as const) {
    for (let p = 0; p < PARTITIONS; p++) {
      const ci = await jsm.consumers.info(stream, n.durable(svc, p));
      if (ci.num_pending > 0 || ci.num_ack_pending > 0) return false;
    }
  }
  return true;
}

type View = Record<string, unknown> & { recentDecisions: { decisionId: string }[]; openPositions: { positionId: string }[]; recentMemories: { memoryId: string }[] };

/**
 * The agent's state as rebuilt from Postgres by the shared builder
 * (`readAgentViews` of @farmbrain/store, what tiering copies to Redis), in the
 * shape GET /v1/agents/:id answers: the 10 newest decisions, the open positions
 * by symbol, the 10 newest live memories.
 */
async function warmView(p: Pool, agentId: string): Promise<View> {
  const v = (await readAgentViews(p, [agentId], { decisions: 10, memories: 10 })).get(agentId);
  if (!v) throw new Error(`${agentId} has no agents row`);
  return { ...v.summary, openPositions: v.positions, recentDecisions: v.decisions, recentMemories: v.memories } as unknown as View;
}

/** The same three lists as ids, straight from Postgres (independent of the gateway's mapping). */
async function warmIds(p: Pool, agentId: string): Promise<{ decisions: string[]; positions: string[]; memories: string[] }> {
  const [d, pos, m] = await Promise.all([
    p.query<{ id: string }>('SELECT event_id::text AS id FROM decisions WHERE agent_id = $1 ORDER BY occurred_at DESC, event_id DESC LIMIT 10', [agentId]),
    p.query<{ id: string }>(`SELECT position_id::text AS id FROM positions WHERE agent_id = $1 AND status = 'open' ORDER BY symbol`, [agentId]),
    p.query<{ id: string }>('SELECT memory_id AS id FROM memories WHERE agent_id = $1 AND forgotten_at IS NULL ORDER BY created_at DESC, memory_id COLLATE "C" DESC LIMIT 10', [agentId]),
  ]);
  return { decisions: d.rows.map((r) => r.id), positions: pos.rows.map((r) => r.id), memories: m.rows.map((r) => r.id) };
}

/** The gateway's answer once it comes from the hot tier (bounded), without `source`. */
async function hotView(agentId: string): Promise<View | undefined> {
  const a = await waitFor(`${agentId} to be served from the hot tier`, async () => {
    const r = await get(`${gatewayUrl}/v1/agents/${agentId}`, 5000);
    return r.status === 200 && r.body?.source === 'hot' ? r : false;
  }, RECOVERY_MS, 250).catch(() => undefined);
  if (!a) return undefined;
  const { source: _source, ...view } = a.body as View & { source: string };
  return view as View;
}

test('faults - after recovery: every acknowledged event is stored exactly once, and each agent\'s hot state equals its warm state', async (t) => {
  await ensureUp(t);
  await fleet.stop();
  const synced = await waitFor('the pipeline to catch up', caughtUp, 90_000, 200).catch((err: Error) => err.message);
  const p = await pool();
  const dlq = await jsm.streams.info(n.deadLetterStream).then((i) => i.state.messages, () => -1);
  t.diagnostic(`acknowledged: ${(['register', 'decision', 'trade', 'close', 'memory'] as const).map((k) => `${fleet.acked(k).length} ${k}`).join(', ')} of ${fleet.sent.size} recorded; dead letters: ${dlq}`);

  await t.test('every record call was acknowledged (the outbox held events through the outages)', () => {
    const rejected = [...fleet.sent.values()].filter((s) => s.state !== 'acked');
    const codes = new Map<string, number>();
    for (const s of rejected) codes.set(`${s.state} ${s.code ?? ''}`, (codes.get(`${s.state} ${s.code ?? ''}`) ?? 0) + 1);
    assert.equal(rejected.length, 0, `${rejected.length} of ${fleet.sent.size} not acknowledged: ${[...codes].map(([k, v]) => `${k} ×${v}`).join(', ')}; close errors: ${fleet.closeErrors.join('; ')}`);
  });
  await t.test('ingest and tiering caught up with the log', () => assert.equal(synced, true, String(synced)));

  const tables: [Exclude<Kind, 'register'>, string][] = [['decision', 'decisions'], ['trade', 'trades'], ['close', 'position_closes'], ['memory', 'memory_versions']];
  for (const [kind, table] of tables) {
    await t.test(`every acknowledged ${kind} is in ${table} exactly once, and ${table} holds nothing else`, async () => {
      const acked = fleet.acked(kind).map((s) => s.eventId);
      assert.ok(acked.length > 50, `only ${acked.length} ${kind}s acknowledged`);
      const r = await p.query<{ id: string; n: number }>(`SELECT event_id::text AS id, count(*)::int AS n FROM ${table} GROUP BY 1`);
      const stored = new Map(r.rows.map((x) => [x.id, x.n]));
      const missing = acked.filter((id) => !stored.has(id));
      const doubled = [...stored].filter(([, c]) => c !== 1);
      assert.deepEqual({ missing: missing.length, doubled: doubled.length }, { missing: 0, doubled: 0 }, `missing e.g. ${missing.slice(0, 3).join(', ')} (dead letters in the stream: ${dlq})`);
      assert.equal(stored.size, acked.length, `${table}: ${stored.size} rows, ${acked.length} acknowledged`);
    });
  }
  await t.test('agents, memories and positions add up: one agent row each, one memory per memory_stored, a closed position per close', async () => {
    const r = await p.query<{ agents: number; memories: number; closed: number; trades: number }>(
      `SELECT (SELECT count(*) FROM agents)::int AS agents, (SELECT count(*) FROM memories)::int AS memories,
              (SELECT count(*) FROM positions WHERE status = 'closed')::int AS closed, (SELECT coalesce(sum(trade_count), 0) FROM positions)::int AS trades`,
    );
    const row = r.rows[0]!;
    assert.deepEqual(row, { agents: AGENTS, memories: fleet.acked('memory').length, closed: fleet.acked('close').length, trades: fleet.acked('trade').length });
  });

  for (const id of agentIds) {
    await t.test(`${id}: the hot state equals the state rebuilt from Postgres`, async () => {
      const hot = await hotView(id);
      assert.ok(hot, `${id} is not served from the hot tier within ${RECOVERY_MS / 1000} s after recovery (hot state never rebuilt after Redis came back empty?)`);
      const ids = await warmIds(p, id);
      assert.deepEqual(
        { decisions: hot.recentDecisions.map((d) => d.decisionId), positions: hot.openPositions.map((x) => x.positionId), memories: hot.recentMemories.map((m) => m.memoryId) },
        ids,
        'the same recent decisions, open positions and recent memories as Postgres',
      );
      assert.deepEqual(hot, await warmView(p, id), 'the same content as the view rebuilt from Postgres');
    });
  }
  await t.test('farmbrain start still runs and every service has a live process', () => {
    assert.ok(fb.alive, `farmbrain start exited:\n${fb.tail()}`);
    for (const s of SERVICES) assert.ok(isAlive(fb.pidOf(s)), `${s} not running`);
    if (fb.starts > 1) assert.fail(`farmbrain start had to be started ${fb.starts - 1} more time(s) by this test after it exited`);
  });
});
