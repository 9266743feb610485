#!/usr/bin/env node
/**
 * `node apps/demo/dist/main.js [--agents N] [--gateway URL] ...`: runs only the
 * demo fleet against a running farmbrain; Ctrl-C stops it. See config.ts (USAGE).
 */
import { parseCommand, USAGE, type Command } from './config.js';
import { errorMessage } from './format.js';
import { runFleet } from './runFleet.js';

let command: Command;
try {
  command = parseCommand(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`demo-fleet: ${errorMessage(err)}\n\n${USAGE}`);
  process.exit(1);
}
if (command.help) {
  process.stdout.write(USAGE);
} else {
  process.exitCode = await runFleet(command.config);
  process.exit();
}
