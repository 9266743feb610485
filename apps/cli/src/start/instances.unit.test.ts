import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstances, planInstances } from './instances.js';
import { describeExit, nextRestartDelay, Supervisor } from './supervisor.js';

test('instances - --instances parses service=N pairs', () => {
  assert.deepEqual(parseInstances('tiering=2,ingest=3'), { tiering: 2, ingest: 3 });
  assert.deepEqual(parseInstances(' ingest=1 , '), { ingest: 1 });
  assert.deepEqual(parseInstances('archive=2'), { archive: 2 });
  assert.throws(() => parseInstances('gateway=2'), { code: 'USAGE', message: /only tiering, ingest and archive/ });
  assert.throws(() => parseInstances('tiering=33'), /from 1 to 32/);
  assert.throws(() => parseInstances('tiering=-1'), /service=N pairs/);
  assert.throws(() => parseInstances(''), /at least one/);
});

test('instances - one instance keeps the service name and its ops port; several are <service>-<i>, the extra ones on a free ops port', () => {
  const one = planInstances({ tiering: 1, ingest: 1, archive: 1 });
  assert.deepEqual(one.map((s) => [s.name, s.instanceId, s.env]), [
    ['tiering', 'tiering-0', { FB_INSTANCE_ID: 'tiering-0' }],
    ['ingest', 'ingest-0', { FB_INSTANCE_ID: 'ingest-0' }],
    ['archive', 'archive-0', { FB_INSTANCE_ID: 'archive-0' }],
    ['analytics', 'analytics-0', { FB_INSTANCE_ID: 'analytics-0' }],
    ['gateway', 'gateway-0', { FB_INSTANCE_ID: 'gateway-0' }],
  ]);
  const many = planInstances({ tiering: 2, ingest: 3, archive: 2 });
  assert.deepEqual(many.map((s) => s.name), ['tiering-0', 'tiering-1', 'ingest-0', 'ingest-1', 'ingest-2', 'archive-0', 'archive-1', 'analytics', 'gateway']);
  assert.deepEqual(many[6]!.env, { FB_INSTANCE_ID: 'archive-1', FB_ARCHIVE_OPS_PORT: '0' });
  assert.deepEqual(many[1]!.env, { FB_INSTANCE_ID: 'tiering-1', FB_TIERING_OPS_PORT: '0' });
  assert.deepEqual(many[4]!.env, { FB_INSTANCE_ID: 'ingest-2', FB_INGEST_OPS_PORT: '0' });
  assert.equal(many[2]!.env.FB_INGEST_OPS_PORT, undefined, 'instance 0 keeps the configured port');
});

test('supervisor - backoff doubles to 30 s, resets after 60 s up; a bad configuration at start-up stops; nothing restarts while stopping', () => {
  assert.deepEqual([1, 2, 3, 7, 8, 100].map((n) => nextRestartDelay(n)), [500, 1000, 2000, 30_000, 30_000, 30_000]);
  const s = new Supervisor();
  assert.deepEqual(s.exited({ code: 1, upMs: 10 }, 'running'), { action: 'restart', delayMs: 500, restart: 1 });
  assert.deepEqual(s.exited({ code: 1, upMs: 10 }, 'running'), { action: 'restart', delayMs: 1000, restart: 2 });
  assert.deepEqual(s.exited({ code: 1, upMs: 60_000 }, 'running'), { action: 'restart', delayMs: 500, restart: 3 });
  assert.equal(new Supervisor().exited({ code: 2, upMs: 10 }, 'starting').action, 'stop');
  assert.equal(new Supervisor().exited({ code: 2, upMs: 10 }, 'running').action, 'restart');
  assert.deepEqual(new Supervisor().exited({ code: 1, upMs: 10 }, 'stopping'), { action: 'none' });
  assert.equal(describeExit({ code: null, signal: 'SIGKILL' }), 'was killed by SIGKILL');
  assert.equal(describeExit({ code: 1 }), 'exited with code 1');
  assert.equal(describeExit({ code: null, err: Object.assign(new Error('x'), { code: 'ENOENT' }) }), 'could not be started (ENOENT)');
});
