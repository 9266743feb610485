import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager, JsMsg, PubAck } from '@nats-io/jetstream';
import {
  batchMsgId,
  buildEnvelope,
  encodeBatch,
  type PayloadInput,
  type EventType,
  type FarmEvent,
  type Names,
} from '@farmbrain/contracts';

/** Builds a valid event with explicit metadata (deterministic when eventId/seq/at are given), as the SDK builds it. */
export function makeEvent<T extends EventType>(
  agentId: string,
  type: T,
  data: PayloadInput<T>,
  meta: { eventId?: string; producerSeq: number; occurredAt?: number; correlationId?: string },
): FarmEvent {
  return buildEnvelope({ agentId, type, data, ...meta }, { seq: { next: () => meta.producerSeq }, now: Date.now }) as FarmEvent;
}

/** Publishes events of one agent as one ingress message, as the SDK would. */
export function publishEvents(js: JetStreamClient, names: Names, events: readonly FarmEvent[], msgID?: string): Promise<PubAck> {
  const agentId = events[0]!.agentId;
  return js.publish(names.ingressSubject(agentId), encodeBatch(events), { msgID: msgID ?? batchMsgId(events) });
}

/**
 * Publishes a session as a fleet would: each agent's events in messages of
 * `perMessage`, agents interleaved (one message of each per round, concurrently),
 * each agent's in order; `pauseMs` between rounds paces it (so faults can be
 * injected while it publishes).
 */
export async function publishSession(js: JetStreamClient, names: Names, session: readonly (readonly FarmEvent[])[], { perMessage, pauseMs = 0 }: { perMessage: number; pauseMs?: number }): Promise<void> {
  const chunks = session.map((evs) => {
    const out: FarmEvent[][] = [];
    for (let i = 0; i < evs.length; i += perMessage) out.push(evs.slice(i, i + perMessage));
    return out;
  });
  const rounds = Math.max(0, ...chunks.map((c) => c.length));
  for (let r = 0; r < rounds; r++) {
    await Promise.all(chunks.map((c) => (c[r] ? publishEvents(js, names, c[r]!) : undefined)));
    if (pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
  }
}

/** Every message of a stream, in stream order (an ordered consumer). */
export async function readStream(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<JsMsg[]> {
  const count = (await jsm.streams.info(stream)).state.messages;
  const out: JsMsg[] = [];
  if (count === 0) return out;
  const it = await (await js.consumers.get(stream)).consume();
  for await (const m of it) {
    out.push(m);
    if (m.info.pending === 0) break;
  }
  await it.close();
  return out;
}

/** Publishes raw bytes on any subject (for malformed input). */
export function publishRaw(js: JetStreamClient, subject: string, data: Uint8Array, msgID: string, hdrs: Record<string, string> = {}): Promise<PubAck> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return js.publish(subject, data, { msgID, headers: h });
}

/**
 * A deterministic trading session for `agents` agents: registration, decisions,
 * trades, closes, checkpoints and memory writes with updates and forgets.
 * Same inputs → same events (ids included), so two runs can be compared.
 */
export function tradingSession(opts: { agents: number; eventsPerAgent: number; seed?: number; baseTime?: number; prefix?: string }): FarmEvent[][] {
  let x = opts.seed ?? 42;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const base = opts.baseTime ?? Date.now() - 60_000;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  // UUIDv7 layout with a deterministic tail.
  let counter = 0;
  const id = (at: number) => {
    counter++;
    const t = hex(at, 12);
    return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(counter % 4096, 3)}-${hex(0x8000 | (counter >>> 12 & 0x3fff), 4)}-${hex(Math.floor(rnd() * 2 ** 48), 12)}`;
  };
  const symbols = ['BTC', 'ETH', 'SOL'];
  const out: FarmEvent[][] = [];
  for (let a = 0; a < opts.agents; a++) {
    const agentId = `${opts.prefix ?? 'agent'}-${a}`;
    const evs: FarmEvent[] = [];
    let seq = 1000;
    let at = base;
    const mk = <T extends EventType>(type: T, data: PayloadInput<T>) => {
      seq += 1;
      at += 1;
      const e = makeEvent(agentId, type, data, { eventId: id(at), producerSeq: seq, occurredAt: at });
      evs.push(e);
      return e;
    };
    mk('agent_registered', { name: `Agent ${a}`, team: a % 2 ? 'odd' : 'even', strategy: 'test', config: { a } });
    const open = new Map<string, string[]>();
    const memories: string[] = [];
    while (evs.length < opts.eventsPerAgent) {
      const r = rnd();
      const symbol = symbols[Math.floor(rnd() * symbols.length)]!;
      if (r < 0.5) {
        const d = mk('decision_made', { symbol, action: rnd() < 0.5 ? 'buy' : 'sell', size: 1, confidence: Math.round(rnd() * 100) / 100, rationale: `r${evs.length}`, situation: [rnd(), rnd(), rnd()], memoryIds: memories.slice(-2) });
        if (rnd() < 0.6) {
          mk('trade_executed', { orderId: `o-${seq}`, symbol, side: rnd() < 0.5 ? 'buy' : 'sell', qty: 1 + Math.floor(rnd() * 3), price: 100 + Math.round(rnd() * 1000) / 10, fees: 0.1, decisionId: d.eventId });
          open.set(symbol, [...(open.get(symbol) ?? []), d.eventId]);
        }
      } else if (r < 0.65 && open.size > 0) {
        const [sym, ids] = [...open][0]!;
        open.delete(sym);
        mk('position_closed', { symbol: sym, realizedPnl: Math.round((rnd() - 0.5) * 2000) / 10, decisionIds: ids, exitPrice: 100 + rnd() * 10 });
      } else if (r < 0.75) {
        const e = mk('memory_stored', { memoryId: `m-${agentId}-${seq}`, kind: 'observation', text: `saw ${symbol} move`, tags: [symbol], importance: 0.5, embedding: [], scope: 'agent', scopeId: '', expiresAt: 0, sourceEventIds: [], situation: [] });
        memories.push((e.data as { memoryId: string }).memoryId);
      } else if (r < 0.8 && memories.length > 0) {
        mk('memory_updated', { memoryId: memories[memories.length - 1]!, tags: ['reviewed'], replaceTags: false, embedding: [], importance: 0.7 });
      } else if (r < 0.83 && memories.length > 1) {
        mk('memory_forgotten', { memoryId: memories.shift()!, reason: 'stale' });
      } else if (r < 0.9) {
        mk('checkpoint_saved', { label: `cp-${seq}`, state: new TextEncoder().encode(JSON.stringify({ seq })) });
      } else {
        mk('agent_state_changed', { status: rnd() < 0.5 ? 'active' : 'paused', reason: 'test' });
      }
    }
    out.push(evs);
  }
  return out;
}
