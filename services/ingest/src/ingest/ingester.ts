import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { JetStreamApiCodes, type JetStreamClient, type JetStreamManager, type JsMsg, type PubAck } from '@nats-io/jetstream';
import { agentOfSubject, HEADERS, type EventLimits, type FarmEvent, type Names, type ScopePolicy } from '@farmbrain/contracts';
import type { Logger } from '@farmbrain/platform';
import { triage, type Triage } from './triage.js';

export interface IngesterDeps {
  js: JetStreamClient;
  /** Reads the last message of a canonical subject (the fence: see `createIngestHandler`). */
  jsm: JetStreamManager;
  names: Names;
  limits: EventLimits;
  scopes: ScopePolicy;
  log: Logger;
  /** Most agent subjects a partition's handler remembers the log position of (default 100,000). */
  maxKnownSubjects?: number;
  /**
   * Seals memory content with each memory's key before it reaches the canonical log (crypto-shredding:
   * see sealer.ts). Deterministic, so a retried publish is still a duplicate. Absent: content in the clear.
   */
  seal?: (events: readonly FarmEvent[], body: Uint8Array) => Promise<Uint8Array>;
}

/** What this process wrote (a message found already in the log, or deduplicated, is counted apart). */
export interface IngestStats {
  /** Ingress messages whose canonical message this process published (or had deduplicated). */
  messages: number;
  forwardedEvents: number;
  deadLettered: number;
  /** Messages found already in the canonical log (published by an earlier attempt or another owner): not published again. */
  skipped?: number;
  /** Publishes refused because the canonical subject moved on ("wrong last sequence"): another writer was there. */
  conflicts?: number;
  /** Publishes JetStream deduplicated by message id (the message was already there). */
  duplicates?: number;
}

/** Handles one batch of one partition's ingress messages, in stream order; throws when the batch must be retried in place. */
export type IngestBatchHandler = (msgs: readonly JsMsg[]) => Promise<void>;

export interface IngestHandlers {
  /**
   * A fresh handler for a partition this instance just took (or took again): it
   * knows nothing of the canonical log yet and learns it from the log itself.
   * Call it once per acquisition, and never run two batches of one handler at once.
   */
  open(partition: number): IngestBatchHandler;
}

/**
 * Any text as a header value: one line, no control characters, bounded. Header
 * values come from what producers sent (event ids, reasons quoting their data),
 * and NATS refuses a header value holding CR or LF.
 */
// eslint-disable-next-line no-control-regex
const headerValue = (s: string, max = 2000) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max);

interface Output {
  subject: string;
  body: Uint8Array;
  msgID: string;
  headers: MsgHdrs;
}

/**
 * What one ingress message leads to (pure): always exactly one canonical message
 * on its agent's canonical subject (the valid events, and a mark of how many were
 * rejected; a message rejected whole leaves an empty one, so the projections'
 * ingress watermark passes every message and a read waiting on a rejected write
 * resolves at once and can say why), and one dead letter per rejected event.
 */
function outputsOf(m: JsMsg, names: Names, t: Triage): { canonical: Output & { events: number; valid: FarmEvent[] }; deadLetters: Output[] } {
  const trace = m.headers?.get(HEADERS.traceparent);
  const h = natsHeaders();
  h.set(HEADERS.ingressSeq, String(m.seq));
  if (trace) h.set(HEADERS.traceparent, headerValue(trace, 256));
  // A dead-letter replay that passed every check again: tiering releases the letter and applies it. One
  // that failed again (in whole or in part) is dead-lettered again (below), and its letter stays.
  const replayOf = headerValue(m.headers?.get(HEADERS.replayOf) ?? '', 256).trim();
  if (replayOf && t.valid && t.rejected.length === 0) h.set(HEADERS.replayOf, replayOf);
  if (t.rejected.length > 0) {
    const first = t.rejected[0]!;
    h.set(HEADERS.rejected, String(t.rejected.length));
    h.set(HEADERS.reasonCode, first.code);
    h.set(HEADERS.reason, headerValue(first.reason));
  }
  const canonical = { subject: names.canonicalOf(m.subject), body: t.valid?.body ?? new Uint8Array(), msgID: `in:${m.seq}`, headers: h, events: t.valid?.events.length ?? 0, valid: t.valid?.events ?? [] };
  const deadLetters = t.rejected.map((r): Output => {
    const dh = natsHeaders();
    dh.set(HEADERS.reasonCode, r.code);
    dh.set(HEADERS.reason, headerValue(r.reason));
    dh.set(HEADERS.eventId, headerValue(r.eventId, 128) || '-');
    dh.set(HEADERS.originalSubject, headerValue(m.subject, 512));
    dh.set(HEADERS.ingressSeq, String(m.seq));
    return { subject: names.deadLetterSubject(t.agentId), body: r.body, msgID: `dlq:${m.seq}:${r.index}`, headers: dh };
  });
  return { canonical, deadLetters };
}

/** The last message this handler knows on a canonical subject: its stream sequence and the ingress sequence it carries. */
interface SubjectState {
  seq: number;
  /** Every ingress message of the subject up to this one is in the log (0: none known). */
  ingressSeq: number;
}

/** The ingress sequence a canonical message carries (0 when none, or garbage). */
const ingressSeqOf = (h: MsgHdrs | undefined): number => {
  const v = h?.get(HEADERS.ingressSeq) ?? '';
  return /^\d{1,16}$/.test(v) ? Number(v) : 0;
};

/** JetStream refused a publish because the subject's last sequence is not the expected one. */
const isWrongLastSequence = (err: unknown): boolean =>
  (err as { code?: unknown })?.code === JetStreamApiCodes.StreamWrongLastSequence && typeof (err as { apiError?: unknown }).apiError === 'function';

/** Conflicts in a row on one message before the batch fails (each conflict means another writer moved the subject on). */
const MAX_CONFLICTS = 50;

/**
 * The ingress handler. `open(partition)` gives the batch handler of one
 * partition for one ownership of it.
 *
 * Per-agent order is fenced by the canonical log itself. Every ingress message
 * leads to exactly one canonical message on its agent's canonical subject, and the
 * messages of one subject are published one at a time, in ingress order, each
 * expecting the subject's last sequence to be the last one known. So another
 * writer (a previous owner that resumed, a retry whose ack was lost) can never
 * interleave: its publish, or ours, is refused with "wrong last sequence", and
 * the refused one reads the subject's last message to learn where the log is. A
 * message whose ingress sequence is not above the last one in the log is already
 * there (a subject only ever holds a prefix of its ingress messages) and is not
 * published again, whatever the dedupe window. Message ids are kept, so a
 * republish within the window is a plain duplicate.
 *
 * Different subjects are published concurrently; a failed publish stops its
 * subject for this batch, every subject settles, and then the batch throws, to
 * be retried in place. A message's dead letters go out before its canonical
 * message (with their own ids): the canonical message is what marks it done.
 */
export function createIngestHandler(deps: IngesterDeps, stats: IngestStats): IngestHandlers {
  const { js, jsm, names, limits, scopes, log, maxKnownSubjects = 100_000, seal } = deps;

  /** Where the log is on a subject: its last message, read from the stream. */
  const lastInLog = async (subject: string): Promise<SubjectState> => {
    const m = await jsm.streams.getMessage(names.eventsStream, { last_by_subj: subject });
    return m ? { seq: m.seq, ingressSeq: ingressSeqOf(m.header) } : { seq: 0, ingressSeq: 0 };
  };

  const build = (m: JsMsg): ReturnType<typeof outputsOf> => {
    // Building never fails the batch: a message that cannot be processed (whatever it holds) is
    // dead-lettered whole, with its mark on the canonical stream, so one hostile message can never
    // stall its partition.
    try {
      return outputsOf(m, names, triage({
        subject: m.subject,
        data: m.data,
        storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
        partitions: names.partitions,
        limits,
        scopes,
        imported: m.headers?.get(HEADERS.imported) === '1',
      }));
    } catch (err) {
      log.warn({ err, ingressSeq: m.seq }, 'ingress message could not be processed; dead-lettered whole');
      return outputsOf(m, names, {
        agentId: agentOfSubject(m.subject),
        valid: undefined,
        rejected: [{ index: 0, eventId: '', code: 'DECODE_ERROR', reason: `the message could not be processed (${(err as Error)?.message ?? String(err)})`, body: m.data }],
      });
    }
  };

  const open = (partition: number): IngestBatchHandler => {
    /**
     * Canonical subject → the last message known on it. Empty at takeover: learnt from the log at first use.
     * Bounded (least recently used out): a subject forgotten is learnt from the log again, so the bound
     * costs one lookup for a returning agent, never correctness.
     */
    const known = new Map<string, SubjectState>();

    /** Publishes one ingress message's outputs (or finds it already in the log); `state` is its subject's, updated in place. */
    const one = async (subject: string, state: SubjectState, m: JsMsg): Promise<void> => {
      if (state.ingressSeq >= m.seq) {
        stats.skipped = (stats.skipped ?? 0) + 1;
        return;
      }
      const { canonical, deadLetters } = build(m);
      if (seal && canonical.valid.length > 0) canonical.body = await seal(canonical.valid, canonical.body);
      // Dead letters first: a crash before the canonical message (what marks the message done) sends them again (same ids).
      await Promise.all(deadLetters.map(async (o) => {
        const ack = await js.publish(o.subject, o.body, { msgID: o.msgID, headers: o.headers });
        if (!ack.duplicate) stats.deadLettered += 1;
        log.debug({ subject: o.subject, ingressSeq: m.seq }, 'dead-lettered');
      }));
      for (let conflicts = 0; ; conflicts++) {
        let ack: PubAck;
        try {
          ack = await js.publish(subject, canonical.body, { msgID: canonical.msgID, headers: canonical.headers, expect: { lastSubjectSequence: state.seq } });
        } catch (err) {
          if (!isWrongLastSequence(err) || conflicts >= MAX_CONFLICTS) throw err;
          stats.conflicts = (stats.conflicts ?? 0) + 1;
          const last = await lastInLog(subject);
          log.debug({ subject, partition, ingressSeq: m.seq, expected: state.seq, last }, 'canonical subject moved on: another writer was there');
          state.seq = last.seq;
          // What this handler saw published stays published (a subject only grows), even if its last message carries no ingress sequence.
          state.ingressSeq = Math.max(state.ingressSeq, last.ingressSeq);
          if (state.ingressSeq >= m.seq) {
            stats.skipped = (stats.skipped ?? 0) + 1;
            return;
          }
          continue;
        }
        if (ack.duplicate) {
          // Deduplicated before the expectation was checked: it is in the log, maybe not last.
          stats.duplicates = (stats.duplicates ?? 0) + 1;
          state.seq = Math.max(state.seq, ack.seq);
        } else {
          state.seq = ack.seq;
          stats.forwardedEvents += canonical.events;
        }
        state.ingressSeq = Math.max(state.ingressSeq, m.seq);
        stats.messages += 1;
        return;
      }
    };

    /** One subject's messages of a batch, strictly one after the other; the first failure stops the rest. */
    const chain = async (subject: string, ms: readonly JsMsg[]): Promise<void> => {
      let state = known.get(subject);
      if (state) known.delete(subject); // re-inserted below: the newest in use
      else state = await lastInLog(subject);
      known.set(subject, state);
      while (known.size > maxKnownSubjects) known.delete(known.keys().next().value!);
      for (const m of ms) await one(subject, state, m);
    };

    return async (msgs) => {
      const bySubject = new Map<string, JsMsg[]>();
      for (const m of msgs) {
        const subject = names.canonicalOf(m.subject);
        const list = bySubject.get(subject);
        if (list) list.push(m);
        else bySubject.set(subject, [m]);
      }
      // Every chain settles before the batch fails: nothing of it is in flight when the retry starts.
      const results = await Promise.allSettled([...bySubject].map(([subject, ms]) => chain(subject, ms)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) {
        if (failed.length > 1) log.debug({ partition, failedSubjects: failed.length, of: results.length }, 'batch failed on several subjects');
        throw failed[0]!.reason;
      }
    };
  };

  return { open };
}
