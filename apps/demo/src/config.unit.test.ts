import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, ConfigError, gatewayFromEnv, parseCommand } from './config.js';

test('configFromEnv: the defaults', () => {
  assert.deepEqual(configFromEnv({}), {
    natsUrl: 'nats://127.0.0.1:4222', namespace: 'fb', partitions: 8, gateway: 'http://127.0.0.1:8080', scopePolicy: undefined,
    agents: 6, tickMs: 500, seed: 42,
  });
});

test('configFromEnv: the variables, and an empty one means the default', () => {
  const c = configFromEnv({
    NATS_URL: 'nats://a:1,nats://b:2', FB_NAMESPACE: 'x', FB_PARTITIONS: '4', FB_DEMO_AGENTS: '9', FB_DEMO_TICK_MS: '100', FB_DEMO_SEED: '-3',
    FB_SCOPE_POLICY: '{"writers":{"fleet":["*"]}}', FB_GATEWAY_URL: 'http://gw:9', FB_PARTITIONS_UNUSED: 'x',
  });
  assert.deepEqual(c, {
    natsUrl: 'nats://a:1,nats://b:2', namespace: 'x', partitions: 4, gateway: 'http://gw:9', scopePolicy: { writers: { fleet: ['*'] }, teams: {} },
    agents: 9, tickMs: 100, seed: -3,
  });
  assert.equal(configFromEnv({ FB_DEMO_SEED: '' }).seed, 42);
  assert.throws(() => configFromEnv({ FB_DEMO_TICK_MS: 'fast' }), (err: unknown) => err instanceof ConfigError && err.message === "FB_DEMO_TICK_MS='fast' must be an integer");
});

test('the gateway from FB_GATEWAY_HOST / FB_GATEWAY_PORT; a wildcard bind means this host', () => {
  assert.equal(gatewayFromEnv({ FB_GATEWAY_HOST: '0.0.0.0', FB_GATEWAY_PORT: '9090' }), 'http://127.0.0.1:9090');
  assert.equal(gatewayFromEnv({ FB_GATEWAY_HOST: '10.0.0.5' }), 'http://10.0.0.5:8080');
  assert.equal(gatewayFromEnv({ FB_GATEWAY_HOST: '::1' }), 'http://[::1]:8080');
  assert.equal(gatewayFromEnv({ FB_GATEWAY_HOST: '::' }), 'http://127.0.0.1:8080');
});

test('the scope policy: inline or from a file, checked as the services check it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-demo-'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, '{"teams":{"alpha":["a1"]}}');
  assert.deepEqual(configFromEnv({ FB_SCOPE_POLICY_FILE: file }).scopePolicy, { writers: {}, teams: { alpha: ['a1'] } });
  assert.deepEqual(configFromEnv({ FB_SCOPE_POLICY: '' }).scopePolicy, { writers: {}, teams: {} }, 'set but empty: no writers');
  assert.throws(() => configFromEnv({ FB_SCOPE_POLICY: '{"writers":[]}' }), ConfigError);
  assert.throws(() => configFromEnv({ FB_SCOPE_POLICY: '{}', FB_SCOPE_POLICY_FILE: file }), /not both/);
});

test('parseCommand: options over the environment, --no-gateway, --help, bad options', () => {
  const env = { FB_DEMO_AGENTS: '3', FB_GATEWAY_URL: 'http://gw:1' };
  const r = parseCommand(['--agents', '12', '--seed', '7', '--tick-ms=50', '--nats', 'nats://n:4', '--namespace', 'demo', '--partitions', '16'], env);
  assert.deepEqual(r, { help: false, config: {
    natsUrl: 'nats://n:4', namespace: 'demo', partitions: 16, gateway: 'http://gw:1', scopePolicy: undefined, agents: 12, tickMs: 50, seed: 7,
  } });
  const g = parseCommand(['--gateway', 'http://other:2'], env);
  assert.equal(!g.help && g.config.gateway, 'http://other:2');
  const none = parseCommand(['--no-gateway'], env);
  assert.equal(!none.help && none.config.gateway, undefined);
  assert.equal(!none.help && none.config.agents, 3);
  assert.deepEqual(parseCommand(['-h'], {}), { help: true });
  assert.throws(() => parseCommand(['--agents', 'many'], {}), /--agents='many' must be an integer/);
  assert.throws(() => parseCommand(['--frobnicate'], {}), ConfigError);
  assert.throws(() => parseCommand(['extra'], {}), ConfigError);
  assert.throws(() => parseCommand(['--gateway', 'http://x', '--no-gateway'], {}), /not both/);
});
