// Generates the static protobuf module (ESM) and its typings from proto/.
// Runs as part of `npm run build`, so a fresh clone never needs committed codegen.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const root = join(pkg, '..', '..');
const proto = join(root, 'proto', 'farmbrain', 'v1', 'events.proto');
const out = join(pkg, 'src', 'gen');
const distOut = join(pkg, 'dist', 'gen');
const js = join(out, 'farmbrain.js');
const dts = join(out, 'farmbrain.d.ts');

const fresh = (f) => existsSync(f) && statSync(f).mtimeMs > statSync(proto).mtimeMs && statSync(f).mtimeMs > statSync(fileURLToPath(import.meta.url)).mtimeMs;
if (fresh(js) && fresh(dts) && fresh(join(distOut, 'farmbrain.js'))) process.exit(0);

const require = createRequire(import.meta.url);
const cli = dirname(require.resolve('protobufjs-cli/package.json'));
mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [join(cli, 'bin', 'pbjs'), '-t', 'static-module', '-w', 'es6', '--force-number',
  '--no-verify', '--no-convert', '--no-delimited', '--no-service', '-o', js, proto], { stdio: 'inherit' });
// Node's ESM resolver needs the file extension of protobufjs' subpath.
writeFileSync(js, readFileSync(js, 'utf8').replace(/from "protobufjs\/minimal"/, 'from "protobufjs/minimal.js"'));
execFileSync(process.execPath, [join(cli, 'bin', 'pbts'), '--no-comments', '-o', dts, js], { stdio: 'inherit' });
const typings = readFileSync(dts, 'utf8')
  .replace(/from "protobufjs"/g, 'from "protobufjs/index.js"')
  .replace(/^import Long = require\("long"\);\n/m, '');
writeFileSync(dts, typings);
// tsc does not copy .js sources; the compiled barrel imports ./gen/farmbrain.js from dist.
mkdirSync(distOut, { recursive: true });
copyFileSync(js, join(distOut, 'farmbrain.js'));
copyFileSync(dts, join(distOut, 'farmbrain.d.ts'));
console.log('contracts: generated', js);
