/**
 * Checks before `farmbrain start` spawns anything: the services are built,
 * NATS, Redis and Postgres answer (a quick connect and a one-line hello each),
 * and the gateway's port is free. Each failure says what to do.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import type { Palette } from '../output.js';

export type Backing = 'nats' | 'redis' | 'postgres';

export const HINTS: Record<Backing, { label: string; envVar: string; port: number; cmd: string }> = {
  nats: { label: 'NATS', envVar: 'NATS_URL', port: 4222, cmd: 'nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &' },
  redis: { label: 'Redis', envVar: 'REDIS_URL', port: 6379, cmd: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no' },
  postgres: { label: 'PostgreSQL', envVar: 'DATABASE_URL', port: 5432, cmd: 'pg_ctlcluster --skip-systemctl-redirect 15 main start' },
};

export type Target = { host: string; port: number; where: string; path?: undefined } | { path: string; where: string; host?: undefined; port?: undefined };

/** Where to connect for a service URL: { host, port } or { path } (a Postgres unix socket). */
export function target(kind: Backing, url: string): Target {
  let raw = url.split(',')[0]!.trim();
  if (!raw.includes('://')) raw = `${kind}://${raw}`;
  const u = new URL(raw);
  const port = Number(u.port) || HINTS[kind].port;
  const hostParam = u.searchParams.get('host');
  if (kind === 'postgres' && ((hostParam && hostParam.startsWith('/')) || u.hostname === '')) {
    const dir = hostParam || '/var/run/postgresql';
    return { path: `${dir}/.s.PGSQL.${port}`, where: `${dir} (port ${port})` };
  }
  const host = (hostParam || u.hostname).replace(/^\[|\]$/g, '');
  return { host, port, where: `${host}:${port}` };
}

/**
 * A quick connect (and, with `kind`, a one-line protocol hello, so that a proxy
 * or another server on the port is not taken for the real thing). Resolves
 * undefined when it answers, else the error.
 */
export function probe(t: { host?: string | undefined; port?: number | undefined; path?: string | undefined }, timeoutMs = 1500, kind?: Backing): Promise<(Error & { code?: string }) | undefined> {
  return new Promise((resolvePromise) => {
    const s = t.path ? net.connect({ path: t.path }) : net.connect({ host: t.host!, port: t.port! });
    let got = Buffer.alloc(0);
    const done = (err: (Error & { code?: string }) | undefined) => {
      clearTimeout(timer);
      s.destroy();
      resolvePromise(err);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    s.once('error', (err) => done(err));
    s.once('connect', () => {
      if (!kind) return done(undefined);
      if (kind === 'redis') s.write('PING\r\n');
      if (kind === 'postgres') s.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])); // SSLRequest: the server answers S or N
    });
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const text = got.toString('latin1');
      const ok = kind === 'nats' ? text.startsWith('INFO') : kind === 'redis' ? /^[+-]/.test(text) : /^[SNE]/.test(text);
      if (ok) return done(undefined);
      if (kind === 'nats' && got.length < 4 && 'INFO'.startsWith(text)) return;
      done(new Error(`something answers there, but not as ${HINTS[kind!].label} (it said ${JSON.stringify(text.slice(0, 24))})`));
    });
    s.once('end', () => done(new Error('the connection was closed without an answer')));
  });
}

const reason = (err: Error & { code?: string }) =>
  err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOENT' ? 'no such socket' : (err.code ?? err.message);

/**
 * Probes NATS, Redis and Postgres together. Resolves when all answer; else
 * throws a CliError whose message lists each one down and how to start it.
 */
export async function checkBackingServices(urls: Record<Backing, string>, explicit: Record<Backing, boolean>, c: Palette): Promise<void> {
  const results = await Promise.all((Object.entries(urls) as [Backing, string][]).map(async ([kind, url]) => {
    let t: Target;
    try {
      t = target(kind, url);
    } catch {
      return { kind, url, err: new Error(`${HINTS[kind].envVar}='${url}' is not a valid URL`), bad: true as const };
    }
    return { kind, url, t, err: await probe(t, 1500, kind) };
  }));
  const down = results.filter((r) => r.err);
  if (down.length === 0) return;
  let text = '';
  for (const r of down) {
    const h = HINTS[r.kind];
    if ('bad' in r) {
      text += `\n${c.red('✗')} ${h.label}: ${r.err!.message}\n`;
      continue;
    }
    const custom = explicit[r.kind] ? ` (${h.envVar}=${r.url})` : '';
    text += `\n${c.red('✗')} ${c.bold(h.label)} is not reachable at ${r.t.where}${custom}: ${reason(r.err!)}\n`;
    text += `  Start it with:\n    ${h.cmd}\n`;
    const isDefault = r.t.port === h.port && ['127.0.0.1', 'localhost'].includes(r.t.host ?? '');
    if (!isDefault) text += `  (that listens on 127.0.0.1:${h.port}; or point ${h.envVar} at a running ${h.label})\n`;
  }
  const labels = down.map((r) => HINTS[r.kind].label).join(', ');
  throw new CliError('SERVICE_UNAVAILABLE', `${text}\nfarmbrain: cannot start: ${labels} ${down.length > 1 ? 'are' : 'is'} not reachable. Start ${down.length > 1 ? 'them' : 'it'}, then run farmbrain start again`);
}

/** The services' entry points; throws when one is not built. */
export function checkBuilt(root: string, services: readonly string[]): void {
  for (const name of services) {
    if (!existsSync(join(root, 'services', name, 'dist', 'main.js'))) {
      throw new CliError('NOT_BUILT', `services/${name}/dist/main.js is missing: build first with npm run build (npm start builds, then runs farmbrain start)`);
    }
  }
}

/** Throws when something already listens on the gateway's port. */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (!(await probe({ host, port }, 1000))) {
    throw new CliError('PORT_IN_USE', `cannot start: port ${port} on ${host} is already in use (another gateway?). Stop it, or pick another port with --port N`);
  }
}
