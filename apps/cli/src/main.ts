#!/usr/bin/env node
/** `farmbrain`: the operator CLI. See apps/cli/README.md. */
import { exportCommand, importCommand } from './commands/agentFile.js';
import { analyticsRebuildCommand } from './commands/analytics.js';
import { backupCommand, restoreCommand } from './commands/backup.js';
import { dlqListCommand, dlqReplayCommand, dlqShowCommand } from './commands/dlq.js';
import { demoCommand } from './commands/demo.js';
import { consolidateCommand } from './commands/consolidate.js';
import { eraseCommand } from './commands/erase.js';
import { optimizeCommand } from './commands/optimize.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { dropCommand, rebuildCommand, switchCommand } from './commands/versions.js';
import { loadCliConfig } from './config.js';
import { runCli, type Handlers, type Io } from './program.js';

const io: Io = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };
const cfg = loadCliConfig();
const handlers: Handlers = {
  start: (a) => startCommand(a, cfg),
  demo: (a) => demoCommand(a, cfg),
  status: (a) => statusCommand(a, cfg, io),
  rebuild: (service, a) => rebuildCommand(service, a, cfg, io),
  switch: (service, v, a) => switchCommand(service, v, a, cfg, io),
  drop: (v, a) => dropCommand(v, a, cfg, io),
  dlqList: (a) => dlqListCommand(a, cfg, io),
  dlqShow: (id, a) => dlqShowCommand(id, a, cfg, io),
  dlqReplay: (id, a) => dlqReplayCommand(id, a, cfg, io),
  backup: (a) => backupCommand(a, cfg, io),
  restore: (dir, a) => restoreCommand(dir, a, cfg, io),
  export: (id, a) => exportCommand(id, a, cfg, io),
  import: (file, a) => importCommand(file, a, cfg, io),
  optimize: (a) => optimizeCommand(a, cfg, io),
  erase: (agentId, memoryId, a) => eraseCommand(agentId, memoryId, a, cfg, io),
  consolidate: (agentId, a) => consolidateCommand(agentId, a, cfg, io),
  analyticsRebuild: (a) => analyticsRebuildCommand(a, cfg, io),
};

const argv = process.argv.slice(2);
const code = await runCli(argv, handlers, io);
// start and demo leave signal handlers and connections behind: they end the process.
if (argv[0] === 'start' || argv[0] === 'demo') process.exit(code);
process.exitCode = code;
