import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from './logger.js';
import { every } from './every.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('every - runs on its interval, never two at once, logs a failed run and goes on, stops after the run in progress', async () => {
  const lines: string[] = [];
  const log = createLogger('every-test', 'silent');
  log.error = ((...args: unknown[]) => void lines.push(String(args[1]))) as unknown as typeof log.error;
  let active = 0;
  let most = 0;
  let runs = 0;
  let failed = false;
  const loop = every(5, async (arg: string | undefined) => {
    active++;
    most = Math.max(most, active);
    runs++;
    await sleep(10);
    active--;
    if (arg === undefined && !failed) {
      failed = true;
      throw new Error('boom');
    }
    return arg ?? 'timer';
  }, { log, name: 'the test loop', firstDelayMs: 0 });
  const asked = await Promise.all([loop.run('a'), loop.run('b')]);
  assert.deepEqual(asked, ['a', 'b']);
  await sleep(80);
  assert.equal(most, 1, 'runs never overlap');
  assert.ok(runs >= 4, `the timer kept running after a failure (${runs})`);
  assert.ok(lines.includes('the test loop failed; trying again next interval'), JSON.stringify(lines));
  assert.equal(loop.stopped, false);
  await loop.stop();
  assert.equal(loop.stopped, true);
  assert.equal(active, 0, 'stop waits for the run in progress');
  const after = runs;
  await sleep(30);
  assert.equal(runs, after, 'no run after stop');
  assert.equal(await loop.run('late'), 'late', 'run() still works after stop');
});
