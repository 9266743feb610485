import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestStack, freePort, uniqueNamespace, waitFor } from '@farmbrain/testing';

// `npm start` (`farmbrain start`, apps/cli) as a user runs it, and its supervision rules
// (apps/cli/src/start/supervisor.ts: loaded by URL from the CLI's build, typed here).

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Decision {
  action: 'none' | 'stop' | 'restart';
  delayMs?: number;
  restart?: number;
  why?: string;
}
interface SupervisorModule {
  nextRestartDelay(n: number): number;
  Supervisor: new () => { restarts: number; exited(exit: { code: number | null; signal?: string | null; upMs: number }, phase: 'starting' | 'running' | 'stopping'): Decision };
}
const supervisorUrl = new URL('apps/cli/dist/start/supervisor.js', `file://${ROOT}`).href;
const { nextRestartDelay, Supervisor } = (await import(supervisorUrl)) as SupervisorModule;

test('start - the restart delay doubles from 0.5 s and stays at 30 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100, 5000].map((n) => nextRestartDelay(n)), [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
});

test('start - the backoff starts again once a service stayed up 60 s, the restart count goes on', () => {
  const s = new Supervisor();
  const crash = (upMs: number) => s.exited({ code: 1, upMs }, 'running');
  assert.deepEqual([crash(100), crash(100), crash(59_999)].map((d) => [d.delayMs, d.restart]), [[500, 1], [1000, 2], [2000, 3]]);
  assert.deepEqual(crash(60_000), { action: 'restart', delayMs: 500, restart: 4 });
  assert.equal(crash(10).delayMs, 1000);
});

test('start - a bad configuration at start-up stops the stack; later it is retried; nothing restarts while stopping', () => {
  assert.equal(new Supervisor().exited({ code: 2, upMs: 50 }, 'starting').action, 'stop');
  assert.equal(new Supervisor().exited({ code: 1, upMs: 50 }, 'starting').action, 'restart');
  assert.equal(new Supervisor().exited({ code: null, signal: 'SIGKILL', upMs: 50 }, 'starting').action, 'restart');
  assert.equal(new Supervisor().exited({ code: 2, upMs: 50 }, 'running').action, 'restart');
  const s = new Supervisor();
  assert.deepEqual(s.exited({ code: 1, upMs: 50 }, 'stopping'), { action: 'none' });
  assert.equal(s.restarts, 0);
});

test('platform - onShutdown exits with code 1 once the drain outlasts its bound', async () => {
  // A service whose close() never finishes, sent SIGTERM: it must still go.
  const code = `
    import { onShutdown, createLogger } from '@farmbrain/platform';
    onShutdown(createLogger('stuck', 'info'), () => new Promise(() => {}), { timeoutMs: 300 });
    setInterval(() => {}, 1000);
    console.log('up');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  await waitFor('the child to be up', () => out.includes('up'), 10_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 1);
  assert.match(out, /"msg":"drain timed out/);
});

// ---------------------------------------------------------------------------
// The real thing: node apps/cli/dist/main.js start --no-demo (what npm start runs), services killed under it.

const namespace = uniqueNamespace('start');
let starter: ChildProcess | undefined;
let output = '';
const servicePids = new Set<number>();

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Every pid farmbrain start printed for `service`, in order. */
const pidsOf = (service: string): number[] =>
  [...output.matchAll(new RegExp(`${service} (?:started|restarted) \\(pid (\\d+)\\)`, 'g'))].map((m) => Number(m[1]));

/** waitFor that fails at once when farmbrain start is gone, and shows what it printed. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  try {
    return await waitFor(what, async () => {
      if (starter?.exitCode !== null || starter.signalCode !== null) throw new Error(`farmbrain start exited (${starter?.exitCode ?? starter?.signalCode})`);
      return fn();
    }, timeoutMs, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- farmbrain start output (end) ---\n${output.slice(-4000)}`);
  }
}

after(async () => {
  if (starter && starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
  for (const pid of servicePids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  // Cleanup only: the namespace's streams, Redis keys and Postgres schema.
  const stack = new TestStack({ namespace, partitions: 4 });
  await stack.connect();
  await stack.destroy();
});

test('start - a killed service is restarted with a new pid, farmbrain start keeps running, and Ctrl-C stops everything', async () => {
  const port = await freePort();
  const readyz = () => fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
  starter = spawn(process.execPath, [`${ROOT}apps/cli/dist/main.js`, 'start', '--no-demo', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, FB_NAMESPACE: namespace, FB_PARTITIONS: '4', FB_OPS_PORT: '0', LOG_LEVEL: 'info', FORCE_COLOR: '0', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const starterExited = new Promise<number | null>((r) => starter!.once('exit', (code) => r(code)));
  const keep = (b: Buffer) => {
    output += b.toString().replace(/\x1b\[[0-9;]*m/g, '');
    for (const s of ['tiering', 'ingest', 'gateway']) for (const pid of pidsOf(s)) servicePids.add(pid);
  };
  starter.stdout!.on('data', keep);
  starter.stderr!.on('data', keep);

  await until('the stack to be ready', async () => (await readyz()) === 200, 120_000);
  for (const s of ['tiering', 'ingest', 'gateway']) assert.equal(pidsOf(s).length, 1, `one pid printed for ${s}`);

  for (const service of ['ingest', 'gateway']) {
    const pid = pidsOf(service)[0]!;
    assert.ok(isAlive(pid), `${service} runs as pid ${pid}`);
    const before = output.length;
    process.kill(pid, 'SIGKILL');

    await until(`the restart line of ${service}`, () =>
      new RegExp(`✗ ${service} was killed by SIGKILL \\(pid ${pid}\\); restarting in 0\\.5 s \\(restart 1\\)`).test(output.slice(before)));
    const next = await until(`a new pid for ${service}`, () => pidsOf(service)[1]);
    assert.notEqual(next, pid);
    assert.match(output.slice(before), new RegExp(`${service} restarted \\(pid ${next}\\)`));
    assert.ok(isAlive(next), `the restarted ${service} runs`);
    assert.ok(!isAlive(pid), `the killed ${service} is gone`);
    assert.equal(starter.exitCode, null, 'farmbrain start is still running');
    // ingest says so; for the gateway, its /readyz below does.
    if (service === 'ingest') await until('the restarted ingest to be running', () => output.slice(before).includes('ingest running'));
    await until('the gateway to be ready again', async () => (await readyz()) === 200);
  }
  assert.equal(pidsOf('tiering').length, 1, 'tiering was not restarted');

  starter.kill('SIGINT');
  const code = await Promise.race([starterExited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
  assert.equal(code, 0, `farmbrain start exits 0 on Ctrl-C\n${output.slice(-3000)}`);
  assert.match(output, /SIGINT received/);
  assert.doesNotMatch(output.slice(output.indexOf('SIGINT received')), /restarting in|restarted \(pid/, 'no restart during shutdown');
  const left = [...servicePids].filter(isAlive);
  assert.deepEqual(left, [], 'every service process is gone');
});
