/** Terminal output: colors, and the start command's one prefixed line per log entry. */

export type Paint = (s: string) => string;

export interface Palette {
  dim: Paint;
  bold: Paint;
  red: Paint;
  yellow: Paint;
  green: Paint;
  cyan: Paint;
  magenta: Paint;
  blue: Paint;
}

export function palette(color: boolean): Palette {
  const paint = (code: string): Paint => (s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { dim: paint('2'), bold: paint('1'), red: paint('31'), yellow: paint('33'), green: paint('32'), cyan: paint('36'), magenta: paint('35'), blue: paint('34') };
}

const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'name', 'msg', 'v', 'reqId']);

/** A log line made readable: `text` to print, and what it said when it was a pino JSON line. */
export interface PrettyLine {
  text: string;
  /** epoch ms of a pino line */
  time?: number;
  msg?: string;
  /** the parsed pino object */
  json?: Record<string, unknown>;
}

export const short = (v: unknown, max = 100): string => {
  let s = typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
  if (s === undefined) s = String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** A pino JSON line as `LEVEL msg k=v ...`; anything else as is. */
export function prettyLine(line: string, c: Palette): PrettyLine {
  if (!line.startsWith('{')) return { text: line };
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return { text: line };
  }
  if (typeof j !== 'object' || j === null || typeof (j as { level?: unknown }).level !== 'number') return { text: line };
  const o = j as Record<string, unknown> & { level: number };
  const levels: Record<number, [string, Paint]> = {
    10: ['TRACE', c.dim], 20: ['DEBUG', c.dim], 30: ['INFO ', (s) => s], 40: ['WARN ', c.yellow], 50: ['ERROR', c.red], 60: ['FATAL', c.red],
  };
  const [label, color] = levels[o.level] ?? [String(o.level).padEnd(5), (s: string) => s];
  const fields: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { type?: string; message?: string };
      fields.push(`err=${short(`${e.type ?? 'Error'}: ${e.message ?? ''}`, 240)}`);
    } else fields.push(`${k}=${short(v)}`);
    if (fields.length >= 6) break;
  }
  const msg = typeof o.msg === 'string' ? o.msg : undefined;
  const text = `${color(label)} ${msg ?? ''}${fields.length ? ` ${c.dim(fields.join(' '))}` : ''}`;
  return { text, ...(typeof o.time === 'number' ? { time: o.time } : {}), ...(msg !== undefined ? { msg } : {}), json: o };
}

export const clock = (t = Date.now()): string => new Date(t).toTimeString().slice(0, 8);

/**
 * Where `start` and `demo` write: one line per entry, prefixed with the time
 * and who said it (`12:00:01 ingest  │ ...`), or with --json one JSON object
 * per line (service lines as they came, with the instance added).
 */
export class LineWriter {
  #width = 7;
  constructor(
    readonly c: Palette,
    readonly json: boolean,
    private readonly stdout: (s: string) => void = (s) => void process.stdout.write(s),
    private readonly stderr: (s: string) => void = (s) => void process.stderr.write(s),
  ) {}

  /** Makes room for names this long in the prefix. */
  widen(name: string): void {
    this.#width = Math.max(this.#width, name.length);
  }

  #colorOf(name: string): Paint {
    const base = name.replace(/-\d+$/, '');
    const colors: Record<string, Paint> = { tiering: this.c.cyan, ingest: this.c.magenta, gateway: this.c.green, demo: this.c.yellow, start: this.c.blue };
    return colors[base] ?? ((s) => s);
  }

  prefix(name: string, t?: number): string {
    return `${this.c.dim(clock(t))} ${this.#colorOf(name)(name.padEnd(this.#width))} ${this.c.dim('│')} `;
  }

  /** A line a service (or the demo) printed. */
  service(name: string, raw: string, p: PrettyLine, isErr: boolean): void {
    if (this.json) {
      this.stdout(`${JSON.stringify(p.json ? { ...p.json, instance: name } : { time: Date.now(), instance: name, stream: isErr ? 'stderr' : 'stdout', line: raw })}\n`);
      return;
    }
    this.stdout(`${this.prefix(name, p.time)}${isErr && !p.time ? this.c.red(p.text) : p.text}\n`);
  }

  /** A line of the CLI itself, as `name` (default `start`). */
  say(text: string, name = 'start', fields: Record<string, unknown> = {}): void {
    if (this.json) {
      // eslint-disable-next-line no-control-regex
      this.stdout(`${JSON.stringify({ time: Date.now(), instance: name, msg: text.replace(/\x1b\[[0-9;]*m/g, ''), ...fields })}\n`);
      return;
    }
    this.stdout(`${this.prefix(name)}${text}\n`);
  }

  /** A block of text for the user (banner, failures) to stdout; with --json, one object instead. */
  block(text: string, json: Record<string, unknown>): void {
    this.stdout(this.json ? `${JSON.stringify({ time: Date.now(), instance: 'start', ...json })}\n` : text);
  }

  /** A failure explained at length on stderr; with --json, one object on stdout. */
  fail(text: string, fields: Record<string, unknown> = {}): void {
    if (this.json) {
      // eslint-disable-next-line no-control-regex
      this.stdout(`${JSON.stringify({ time: Date.now(), instance: 'start', level: 50, msg: text.trim().replace(/\x1b\[[0-9;]*m/g, ''), ...fields })}\n`);
      return;
    }
    this.stderr(text);
  }

  raw(text: string): void {
    if (!this.json) this.stdout(text);
  }
}
