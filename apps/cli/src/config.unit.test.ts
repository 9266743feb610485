import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliConfig } from './config.js';

test('config - the gateway URL: FB_GATEWAY_URL, else the host and port the gateway listens on', () => {
  assert.equal(new CliConfig({}).gatewayUrl, 'http://127.0.0.1:8080');
  assert.equal(new CliConfig({ FB_GATEWAY_PORT: '9000', FB_GATEWAY_HOST: '0.0.0.0' }).gatewayUrl, 'http://127.0.0.1:9000');
  assert.equal(new CliConfig({ FB_GATEWAY_HOST: '::1' }).gatewayUrl, 'http://[::1]:8080');
  assert.equal(new CliConfig({ FB_GATEWAY_URL: 'https://fb.example/', FB_GATEWAY_PORT: '9' }).gatewayUrl, 'https://fb.example');
  assert.throws(() => new CliConfig({ FB_GATEWAY_PORT: 'x' }).gatewayUrl, { code: 'CONFIG_INVALID', message: /FB_GATEWAY_PORT='x' must be an integer/ });
});

test('config - instances, ops ports, the common settings, and nothing read before it is needed', () => {
  const cfg = new CliConfig({ FB_TIERING_INSTANCES: '3', FB_OPS_PORT: '0', FB_INGEST_OPS_PORT: '9100', FB_PARTITIONS: 'bad' });
  assert.deepEqual(cfg.instances, { tiering: 3, ingest: 1, archive: 1 });
  assert.equal(cfg.ops('tiering').port, 0);
  assert.equal(cfg.ops('ingest').port, 9100);
  assert.throws(() => cfg.common, /FB_PARTITIONS='bad'/);
  assert.throws(() => new CliConfig({ FB_INGEST_INSTANCES: '0' }).instances, /FB_INGEST_INSTANCES='0' must be an integer from 1 to 32/);
  assert.equal(new CliConfig({}).userScopePolicy, undefined);
  assert.deepEqual(new CliConfig({ FB_SCOPE_POLICY: '' }).userScopePolicy?.source, 'FB_SCOPE_POLICY');
  assert.equal(new CliConfig({ FORCE_COLOR: '1' }).color(false), true);
  assert.equal(new CliConfig({ NO_COLOR: '1' }).color(true), false);
});
