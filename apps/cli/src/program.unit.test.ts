import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FarmbrainError } from '@farmbrain/contracts';
import { CliError, UsageError } from './errors.js';
import { runCli, type Handlers } from './program.js';

/** Runs the CLI with handlers that record what they were called with. */
async function run(argv: string[], behave: (name: string) => Promise<number> = async () => 0) {
  const calls: { name: string; args: unknown[] }[] = [];
  const rec = (name: string) => async (...args: unknown[]) => {
    calls.push({ name, args });
    return behave(name);
  };
  const h = { start: rec('start'), demo: rec('demo'), status: rec('status'), dlqList: rec('dlqList'), dlqShow: rec('dlqShow'), dlqReplay: rec('dlqReplay') } as unknown as Handlers;
  let out = '';
  let err = '';
  const code = await runCli(argv, h, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, calls, out, err };
}

test('cli - start: the options of npm start, --instances, and their defaults', async () => {
  let r = await run(['start']);
  assert.equal(r.code, 0);
  assert.deepEqual(r.calls, [{ name: 'start', args: [{ demo: true, agents: 6, port: undefined, instances: {}, json: false }] }]);
  r = await run(['start', '--no-demo', '--agents', '3', '--port=9000', '--instances', 'tiering=2,ingest=3', '--json']);
  assert.deepEqual(r.calls[0]!.args[0], { demo: false, agents: 3, port: 9000, instances: { tiering: 2, ingest: 3 }, json: true });
  r = await run(['start', '--agents', '0']);
  assert.equal((r.calls[0]!.args[0] as { demo: boolean }).demo, false, '--agents 0 runs no demo');
});

test('cli - usage errors exit 2 and say what is wrong, without running anything', async () => {
  const cases: [string[], RegExp][] = [
    [['start', '--agents', 'x'], /--agents must be an integer from 0 to 200, got 'x'/],
    [['start', '--agents', '201'], /--agents must be an integer/],
    [['start', '--port', '0'], /--port must be an integer from 1 to 65535/],
    [['start', '--instances', 'gateway=2'], /'gateway' cannot run several instances; only tiering, ingest and archive can/],
    [['start', '--instances', 'tiering=0'], /tiering=0 must be from 1 to 32/],
    [['start', '--instances', 'tiering'], /service=N pairs/],
    [['start', '--bogus'], /unknown option '--bogus'/],
    [['nope'], /unknown command 'nope'/],
    [['dlq', 'show', 'x:1'], /'x:1' is not a dead letter id/],
    [['dlq', 'show'], /missing required argument 'id'/],
    [['dlq', 'list', '--limit', '501'], /--limit must be an integer from 1 to 500/],
    [['dlq', 'list', '--agent', 'a b'], /not an agent id/],
    [['dlq', 'list', '--source', 'elsewhere'], /Allowed choices are all, ingest, projection/],
    [['dlq', 'replay', 'p:1', '--gateway', 'ftp://x'], /must be an http:\/\/ or https:\/\/ URL/],
    [['demo', '--gateway', 'not a url'], /is not a URL/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, message, argv.join(' '));
    assert.match(r.err, /--help/, `${argv.join(' ')}: points to --help`);
    assert.deepEqual(r.calls, [], argv.join(' '));
  }
});

test('cli - help exits 0; no command or a bare group shows help and exits 2', async () => {
  let r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /Commands:[\s\S]*start[\s\S]*status[\s\S]*dlq/);
  r = await run(['start', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /--instances <list>/);
  r = await run([]);
  assert.equal(r.code, 2);
  assert.match(r.out, /Usage: farmbrain/);
  r = await run(['dlq']);
  assert.equal(r.code, 2);
  assert.match(r.out + r.err, /list[\s\S]*show[\s\S]*replay/);
});

test('cli - status, demo and dlq get their options', async () => {
  assert.deepEqual((await run(['status', '--json'])).calls, [{ name: 'status', args: [{ json: true }] }]);
  assert.deepEqual((await run(['demo', '--agents', '2', '--gateway', 'http://h:1/'])).calls[0]!.args, [{ agents: 2, gateway: 'http://h:1', json: false }]);
  assert.deepEqual((await run(['dlq', 'list'])).calls[0]!.args, [{ agent: undefined, code: undefined, source: 'all', limit: 20, gateway: undefined, json: false }]);
  assert.deepEqual((await run(['dlq', 'list', '--agent', 'momo-1', '--code', 'scope_forbidden', '--limit', '5', '--source', 'ingest', '--json'])).calls[0]!.args,
    [{ agent: 'momo-1', code: 'SCOPE_FORBIDDEN', source: 'ingest', limit: 5, gateway: undefined, json: true }]);
  assert.deepEqual((await run(['dlq', 'show', 'p:12', '--json'])).calls[0]!.args, ['p:12', { gateway: undefined, json: true }]);
  assert.deepEqual((await run(['dlq', 'replay', 'i:7'])).calls[0]!.args, ['i:7', { gateway: undefined, json: false }]);
});

test('cli - a failed command exits 1 with its code and message (JSON with --json); a usage error from a handler exits 2', async () => {
  const fail = (e: Error) => async () => {
    throw e;
  };
  let r = await run(['dlq', 'replay', 'p:1'], fail(new CliError('ALREADY_REPLAYED', "dead letter 'p:1' was replayed at …")));
  assert.equal(r.code, 1);
  assert.equal(r.err, "farmbrain: dead letter 'p:1' was replayed at … (ALREADY_REPLAYED)\n");
  r = await run(['dlq', 'replay', 'p:1', '--json'], fail(new FarmbrainError('NOT_FOUND', "dead letter 'p:1' was not found")));
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.err), { error: { code: 'NOT_FOUND', message: "dead letter 'p:1' was not found" } });
  r = await run(['status'], fail(new UsageError('bad')));
  assert.equal(r.code, 2);
  r = await run(['status'], fail(new TypeError('oops')));
  assert.equal(r.code, 1);
  assert.match(r.err, /^farmbrain: unexpected error: TypeError: oops/);
  r = await run(['status'], async () => 3);
  assert.equal(r.code, 3, 'the handler\'s own exit code');
});
