import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from './health.js';
import type { Logger } from './logger.js';

export interface OpsServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  readiness: () => Readiness;
  log: Logger;
}

/**
 * The operations endpoint of a worker service (ingest, tiering): GET /healthz
 * (the process answers) and GET /readyz (200 when every dependency is up, else
 * 503, with which one is degraded). It only reads state the health monitor
 * keeps, so it answers at once even while a dependency hangs. A port that
 * cannot be bound is logged, and the service runs on without it.
 */
export async function startOpsServer(o: OpsServerOptions): Promise<Server | undefined> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = o.readiness();
      return send(r.status === 'ready' ? 200 : 503, r);
    }
    return send(404, { error: { code: 'NOT_FOUND', message: `no route ${path}; try /healthz or /readyz` } });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
  } catch (err) {
    o.log.error({ err: (err as Error).message, host: o.host, port: o.port }, 'ops endpoint could not listen; running without /readyz (set the ops port to a free one, or 0)');
    return undefined;
  }
  const a = server.address() as AddressInfo;
  o.log.info({ address: `http://${a.address}:${a.port}` }, 'ops listening');
  server.unref();
  return server;
}

/** Where a started ops endpoint answers (for status listings), or null when it did not start. */
export function opsUrl(host: string, server: Server | undefined): string | null {
  const a = server?.address();
  return a && typeof a === 'object' ? `http://${host}:${(a as AddressInfo).port}` : null;
}
