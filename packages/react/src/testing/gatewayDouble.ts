/**
 * A stand-in for the gateway's HTTP surface in unit tests (a real node:http server on a local
 * port): the reads the client makes, POST /v1/events keeping one memory per event id as the
 * pipeline does, and switches to stop answering or to lose an answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EventIn {
  agentId: string;
  type: string;
  eventId?: string;
  occurredAt?: number;
  data: { memoryId?: string; kind?: string; text?: string; tags?: string[]; importance?: number };
}

export class GatewayDouble {
  /** Every POST /v1/events event received, in order (resends included). */
  readonly received: EventIn[] = [];
  /** Memories stored, newest first, one per event id. */
  readonly memories = new Map<string, { memoryId: string; agentId: string; text: string; kind: string; createdAt: string }[]>();
  readonly #seen = new Set<string>();
  /** Posts whose answer is lost (processed, then the connection is cut without a reply). */
  loseAnswers = 0;
  /** An error answer to give to POST /v1/events instead of processing it. */
  failWrites: { status: number; code: string; message: string } | undefined;
  #server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts answering (on the same port as before, after a stop). */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops answering: the port refuses connections. */
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  addMemory(agentId: string, text: string): void {
    const l = this.memories.get(agentId) ?? [];
    l.unshift({ memoryId: `m-${this.#seen.size}-${l.length}`, agentId, text, kind: 'fact', createdAt: new Date().toISOString() });
    this.memories.set(agentId, l);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/readyz') return send(200, { status: 'ready', checks: {} });
    const m = /^\/v1\/agents\/([^/]+)(\/memories|\/decisions)?$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const agentId = decodeURIComponent(m[1]!);
      if (!this.memories.has(agentId)) return send(404, { error: { code: 'UNKNOWN_AGENT', message: `agent '${agentId}' is unknown` } });
      const items = this.memories.get(agentId)!;
      if (m[2] === '/memories') return send(200, { items: items.slice(0, Number(url.searchParams.get('limit') ?? 50)), nextCursor: null });
      if (m[2] === '/decisions') return send(200, { items: [], nextCursor: null });
      return send(200, { agentId, name: agentId, team: '', strategy: '', status: 'active', config: {}, registeredAt: null, firstSeenAt: null, lastEventAt: null, openPositions: [], recentDecisions: [], recentMemories: items.slice(0, 10), source: 'hot' });
    }
    if (req.method === 'POST' && url.pathname === '/v1/events') {
      const { events } = JSON.parse(raw) as { events: EventIn[] };
      this.received.push(...events);
      if (this.failWrites) return send(this.failWrites.status, { error: { code: this.failWrites.code, message: this.failWrites.message } });
      const bad = events.findIndex((e) => !e.data.text || e.data.text.startsWith('INVALID'));
      if (bad >= 0) return send(400, { error: { code: 'INVALID_EVENT', message: `1 event(s) are invalid; nothing was published: events[${bad}].data.text: refused by the test gateway` } });
      const accepted = events.map((e) => {
        const duplicate = this.#seen.has(e.eventId!);
        if (!duplicate) {
          this.#seen.add(e.eventId!);
          const l = this.memories.get(e.agentId) ?? [];
          l.unshift({ memoryId: e.data.memoryId!, agentId: e.agentId, text: e.data.text!, kind: e.data.kind ?? 'observation', createdAt: new Date(e.occurredAt ?? Date.now()).toISOString() });
          this.memories.set(e.agentId, l);
        }
        return { eventId: e.eventId!, agentId: e.agentId, producerSeq: 1, streamSeq: this.#seen.size, duplicate };
      });
      if (this.loseAnswers > 0) {
        // Stored, but the answer never arrives: the connection is cut.
        this.loseAnswers -= 1;
        req.socket.destroy();
        return;
      }
      return send(202, { accepted });
    }
    return send(404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } });
  }
}
