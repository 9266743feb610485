/**
 * One supervised service process: spawned with its environment, its output
 * printed line by line, and started again (same environment) after a backoff
 * when it exits, until the stack stops. The decisions are in supervisor.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import readline from 'node:readline';
import type { Env } from '@farmbrain/platform';
import { prettyLine, type LineWriter, type PrettyLine } from '../output.js';
import type { InstanceSpec } from './instances.js';
import { describeExit, formatDelay, Supervisor, type ExitInfo, type Phase } from './supervisor.js';

export interface SupervisedOptions {
  spec: InstanceSpec;
  /** The repository root (services/<name>/dist/main.js, and the services' working directory). */
  root: string;
  env: Env;
  out: LineWriter;
  phase: () => Phase;
  /** Every output line of every process of this instance. */
  onLine?: (p: PrettyLine) => void;
  /** Restarting cannot help (a bad configuration at start-up): the stack must stop. */
  onFatal: (why: string) => void;
}

export class SupervisedService {
  readonly supervisor = new Supervisor();
  proc: ChildProcess | undefined;
  pid: number | undefined;
  /** The latest process's last output lines. */
  tail: string[] = [];
  alive = false;
  /** Settles when the latest process is gone. */
  exited: Promise<ExitInfo> = Promise.resolve({ code: null });
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #env: Env;

  constructor(private readonly o: SupervisedOptions) {
    this.#env = Object.freeze({ ...o.env, ...o.spec.env });
  }

  get name(): string {
    return this.o.spec.name;
  }

  start(): void {
    const { out, spec } = this.o;
    const script = join(this.o.root, 'services', spec.service, 'dist', 'main.js');
    const proc = spawn(process.execPath, [script], {
      cwd: this.o.root,
      env: this.#env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal Ctrl-C reaches only the CLI, which then
      // stops the fleet first and sends each service a single SIGTERM.
      detached: true,
    });
    const first = this.supervisor.restarts === 0;
    const tail: string[] = [];
    Object.assign(this, { proc, pid: proc.pid, tail, alive: true });
    this.#startedAt = Date.now();
    const take = (stream: NodeJS.ReadableStream, isErr: boolean) => {
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        if (line === '') return;
        const p = prettyLine(line, out.c);
        tail.push(p.text);
        if (tail.length > 15) tail.shift();
        out.service(this.name, line, p, isErr);
        this.o.onLine?.(p);
      });
    };
    take(proc.stdout!, false);
    take(proc.stderr!, true);
    if (proc.pid !== undefined) out.say(`${this.name} ${first ? 'started' : 'restarted'} (pid ${proc.pid})`, 'start', { event: first ? 'started' : 'restarted', service: this.name, pid: proc.pid });
    this.exited = new Promise((resolveExit) => {
      proc.once('error', (err) => {
        this.alive = false;
        tail.push(`spawn failed: ${err.message}`);
        resolveExit({ code: null, signal: null, err });
      });
      // 'close' comes after the output pipes are drained, so the tail is complete.
      proc.once('close', (code, signal) => {
        this.alive = false;
        resolveExit({ code, signal });
      });
    });
    void this.exited.then((r) => this.#onExit(r));
  }

  #onExit(r: ExitInfo): void {
    const { out } = this.o;
    const c = out.c;
    const decision = this.supervisor.exited({ ...r, upMs: Date.now() - this.#startedAt }, this.o.phase());
    const how = `${describeExit(r)}${this.pid !== undefined ? ` (pid ${this.pid})` : ''}`;
    if (decision.action === 'none') return;
    if (decision.action === 'stop') {
      out.fail(`\n${c.red('✗')} ${c.bold(this.name)} ${how}: ${decision.why}.${this.lastLines()}\n`, { service: this.name });
      this.o.onFatal(`${this.name} cannot start`);
      return;
    }
    out.say(`${c.red('✗')} ${c.bold(this.name)} ${how}; restarting in ${formatDelay(decision.delayMs)} (restart ${decision.restart})`, 'start',
      { event: 'exited', service: this.name, restartInMs: decision.delayMs, restart: decision.restart });
    if (this.tail.length) out.raw(`${this.lastLines(5).replace(/^\n/, '')}\n`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.o.phase() !== 'stopping') this.start();
    }, decision.delayMs);
  }

  /** No restart from now on (the stack is stopping). */
  cancelRestart(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc?.kill(signal);
  }

  lastLines(n = 10): string {
    return this.tail.length
      ? `\n  Its last output:\n${this.tail.slice(-n).map((l) => `    ${l.length > 400 ? `${l.slice(0, 400)}…` : l}`).join('\n')}`
      : ' It printed nothing.';
  }

  restartedNote(): string {
    const n = this.supervisor.restarts;
    return n ? ` (restarted ${n} time${n > 1 ? 's' : ''})` : '';
  }
}
