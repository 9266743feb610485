// Runs every compiled test (unit first, then integration) with node's test runner,
// and ends with one line `N passed, N failed` for CI.
// Usage: node scripts/test.mjs [unit|int] [name-filter]
import { spawn } from 'node:child_process';
import { readdirSync, statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const [kind, filter] = process.argv.slice(2);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (/\.(unit|int)\.test\.js$/.test(name)) out.push(p);
  }
  return out;
}

const files = ['packages', 'services', 'apps']
  .flatMap((d) => readdirSync(join(root, d)).map((w) => join(root, d, w, 'dist')))
  .filter((d) => { try { return statSync(d).isDirectory(); } catch { return false; } })
  .flatMap((d) => find(d))
  .filter((f) => !kind || f.includes(`.${kind}.test.`))
  .filter((f) => !filter || f.includes(filter))
  .sort((a, b) => Number(a.includes('.int.')) - Number(b.includes('.int.')) || a.localeCompare(b));

if (files.length === 0) {
  console.log('no test files found; run `npm run build` first');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const summary = join(tmpdir(), `farmbrain-test-${process.pid}.tap`);
const child = spawn(process.execPath, [
  '--test', '--test-concurrency=1', '--test-timeout=300000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${summary}`,
  ...files,
], { stdio: ['ignore', 'inherit', 'inherit'], cwd: root });
child.on('exit', (code) => {
  let pass = 0, fail = 0;
  try {
    const tap = readFileSync(summary, 'utf8');
    pass = Number(/^# pass (\d+)/m.exec(tap)?.[1] ?? 0);
    fail = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(tap)?.[1] ?? 0);
    rmSync(summary, { force: true });
  } catch { fail += 1; }
  if (code !== 0 && fail === 0) fail = 1;
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(fail > 0 ? 1 : 0);
});
