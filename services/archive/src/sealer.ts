import {
  decodeHeaders,
  decodeSegment,
  encodeSegment,
  insertManifest,
  ObjectConflictError,
  parseKey,
  parseSidecar,
  sameBytes,
  sameSegment,
  segmentKey,
  sha256Hex,
  sidecarJson,
  sidecarKey,
  startingAt,
  type ArchivedMessage,
  type ArchiveStore,
  type SegmentInfo,
  type SegmentLimits,
} from '@farmbrain/archive';
import { inTransaction, type Logger, type Pool } from '@farmbrain/platform';
import { FencedError, lockCheckpoint } from '@farmbrain/projection';
import { PENDING_SIZE_SQL } from './pending.js';

export interface ArchiveStats {
  /** Messages stored as pending. */
  pending: number;
  segments: number;
  sealedMessages: number;
  /** Stored (compressed) bytes of the segments sealed. */
  storedBytes: number;
  /** Their record bytes before compression. */
  rawBytes: number;
  /** Seals that found a segment a crashed seal had written, and finished it. */
  resumed: number;
  failures: number;
}

export const newArchiveStats = (): ArchiveStats => ({ pending: 0, segments: 0, sealedMessages: 0, storedBytes: 0, rawBytes: 0, resumed: 0, failures: 0 });

export interface SealerDeps {
  /** On the archive's schema. */
  pool: Pool;
  store: ArchiveStore;
  namespace: string;
  /** The projection whose checkpoint row a seal locks under the lease's epoch. */
  projection: string;
  limits: SegmentLimits;
  log: Logger;
  stats: ArchiveStats;
  /** Whether this instance may still write for the partition (its lease holds). */
  owns(partition: number): boolean;
  /** The stream sequence below the oldest message the canonical stream holds now (where archiving a fresh partition begins). */
  origin(): Promise<number>;
}

/** A partition held here: what is pending (an estimate, to decide when to look), and the seal in progress. */
export interface PartitionState {
  partition: number;
  epoch: number;
  pendingCount: number;
  pendingBytes: number;
  /** When the oldest pending message was stored (ms), if any. */
  oldestAt: number | undefined;
  /** What the batch in its transaction stored (counted once it committed). */
  inTx: { n: number; bytes: number };
  sealing: Promise<void> | undefined;
  again: boolean;
  closed: boolean;
  /** After a failure: no new attempt before then (ms). */
  retryAt: number;
  failures: number;
}

interface HeadRow { stream_seq: string; size: number; age_ms: number }

/**
 * Seals each partition's pending messages into segments: when a segment's
 * worth of messages or bytes is pending, or the oldest has waited
 * `sealAfterMs`. A seal reads the pending messages in order, writes the
 * segment and its sidecar (keys made of the range, so a retry writes the same
 * keys), then, in one transaction that locks the partition's checkpoint under
 * the lease's epoch (a fenced instance commits nothing), records the manifest
 * row and deletes the messages it sealed. A seal interrupted by a crash left
 * objects without a manifest row: the next seal of the partition starts at the
 * same message, finds them, checks them against the pending messages, and
 * finishes it. Seals run after a batch commits and on a timer, one at a time
 * per partition, never inside a batch: a slow or unreachable store delays
 * sealing, never the partition's consumption.
 */
export class Sealer {
  readonly #parts = new Map<number, PartitionState>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: SealerDeps) {}

  /** Takes a partition over: where archiving began (a fresh partition), what is pending; seals at once if due (or if a crash left a seal unfinished). */
  async open(partition: number, epoch: number, checkpoint: number): Promise<PartitionState> {
    if (checkpoint === 0) {
      await this.d.pool.query('INSERT INTO archive_origins (partition, after_seq) VALUES ($1, $2) ON CONFLICT (partition) DO NOTHING', [partition, await this.d.origin()]);
    }
    const st: PartitionState = {
      partition, epoch, pendingCount: 0, pendingBytes: 0, oldestAt: undefined, inTx: { n: 0, bytes: 0 },
      sealing: undefined, again: false, closed: false, retryAt: 0, failures: 0,
    };
    await this.#refresh(st);
    this.#parts.set(partition, st);
    this.#run(st);
    return st;
  }

  /** After a batch committed: counts what it stored, and seals if a segment is due. */
  committed(st: PartitionState): void {
    const { n, bytes } = st.inTx;
    st.inTx = { n: 0, bytes: 0 };
    if (n === 0) return;
    this.d.stats.pending += n;
    st.pendingCount += n;
    st.pendingBytes += bytes;
    st.oldestAt ??= Date.now();
    if (this.#due(st)) this.#run(st);
  }

  /** The partition stops here: a seal in progress finishes (or is refused, if the partition moved on); no new one starts. */
  async close(partition: number): Promise<void> {
    const st = this.#parts.get(partition);
    if (!st) return;
    st.closed = true;
    this.#parts.delete(partition);
    await st.sealing;
  }

  /** Looks for partitions whose oldest pending message waited long enough. */
  start(): void {
    const every = Math.min(5000, Math.max(50, Math.floor(this.d.limits.sealAfterMs / 4)));
    this.#timer = setInterval(() => {
      for (const st of this.#parts.values()) if (this.#due(st)) this.#run(st);
    }, every).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #due(st: PartitionState): boolean {
    const l = this.d.limits;
    if (st.closed || st.sealing || Date.now() < st.retryAt) return false;
    return st.pendingCount >= l.maxMessages || st.pendingBytes >= l.maxBytes || (st.oldestAt !== undefined && Date.now() - st.oldestAt >= l.sealAfterMs);
  }

  /** Seals what is due, one segment after another, one run at a time per partition. */
  #run(st: PartitionState): void {
    if (st.sealing) {
      st.again = true;
      return;
    }
    st.sealing = (async () => {
      try {
        do {
          st.again = false;
          let sealed = true;
          while (sealed && !st.closed && this.d.owns(st.partition)) sealed = await this.#sealOne(st);
        } while (st.again && !st.closed);
        st.failures = 0;
        st.retryAt = 0;
      } catch (err) {
        this.d.stats.failures++;
        st.failures++;
        st.retryAt = Date.now() + Math.min(30_000, 500 * 2 ** Math.min(st.failures, 6));
        if (err instanceof FencedError) {
          st.closed = true;
          this.d.log.warn({ partition: st.partition, err: err.message }, 'seal refused: another instance owns the partition now; its pending messages are sealed there');
        } else {
          this.d.log.warn({ partition: st.partition, err: (err as Error)?.message ?? String(err), code: (err as { code?: unknown })?.code, retryInMs: st.retryAt - Date.now() },
            'sealing a segment failed; the messages stay pending in Postgres and the seal is retried');
        }
      } finally {
        st.sealing = undefined;
      }
    })();
  }

  async #refresh(st: PartitionState): Promise<void> {
    const r = await this.d.pool.query<{ n: number; bytes: string; age_ms: number | null }>(
      `SELECT count(*)::int AS n, COALESCE(sum(${PENDING_SIZE_SQL}), 0)::bigint AS bytes,
              extract(epoch FROM clock_timestamp() - min(archived_at)) * 1000 AS age_ms
         FROM archive_pending WHERE partition = $1`,
      [st.partition],
    );
    const row = r.rows[0]!;
    st.pendingCount = row.n;
    st.pendingBytes = Number(row.bytes);
    st.oldestAt = row.age_ms === null ? undefined : Date.now() - Number(row.age_ms);
  }

  /** Seals the next segment of the partition if one is due (or was begun by a seal that crashed). Returns whether it sealed one. */
  async #sealOne(st: PartitionState): Promise<boolean> {
    const { pool, store, namespace, limits, log } = this.d;
    const p = st.partition;
    const head = (await pool.query<HeadRow>(
      `SELECT stream_seq, ${PENDING_SIZE_SQL} AS size, extract(epoch FROM clock_timestamp() - archived_at) * 1000 AS age_ms
         FROM archive_pending WHERE partition = $1 ORDER BY stream_seq LIMIT $2`,
      [p, limits.maxMessages + 1],
    )).rows;
    if (head.length === 0) {
      await this.#refresh(st);
      return false;
    }
    const first = Number(head[0]!.stream_seq);
    const unfinished = await this.#unfinished(p, first);
    let last: number;
    if (unfinished) last = unfinished.lastSeq;
    else {
      let bytes = 0;
      let i = 0;
      for (; i < head.length && i < limits.maxMessages; i++) {
        if (i > 0 && bytes + head[i]!.size > limits.maxBytes) break;
        bytes += head[i]!.size;
      }
      const full = i < head.length || i >= limits.maxMessages || bytes >= limits.maxBytes;
      if (!full && Number(head[0]!.age_ms) < limits.sealAfterMs) {
        await this.#refresh(st);
        return false;
      }
      last = Number(head[i - 1]!.stream_seq);
    }
    const afterSeq = await this.#sealedThrough(p);
    if (!(afterSeq < first)) throw new Error(`partition ${p}: pending message ${first} is not above what the archive holds (${afterSeq}); the manifest and the pending table disagree`);
    const rows = await pool.query<{ stream_seq: string; subject: string; headers: Buffer; data: Buffer }>(
      'SELECT stream_seq, subject, headers, data FROM archive_pending WHERE partition = $1 AND stream_seq BETWEEN $2 AND $3 ORDER BY stream_seq',
      [p, first, last],
    );
    const msgs: ArchivedMessage[] = rows.rows.map((r) => ({ seq: Number(r.stream_seq), subject: r.subject, headers: decodeHeaders(r.headers), data: r.data }));
    if (msgs[msgs.length - 1]?.seq !== last) throw new Error(`partition ${p}: the pending messages end at ${msgs[msgs.length - 1]?.seq}, not at ${last} where the segment a crashed seal wrote ends`);
    const key = segmentKey(namespace, p, first, last);
    log.info({ partition: p, firstSeq: first, lastSeq: last, messages: msgs.length, resuming: Boolean(unfinished) }, 'segment sealing');
    const seg = await encodeSegment(p, afterSeq, msgs);
    let bytes = seg.bytes;
    if (unfinished?.seg) {
      // A crashed seal wrote it: it must hold exactly these messages (its bytes may differ if zlib changed since).
      const existing = await store.get(key);
      if (!sameBytes(existing, bytes)) {
        const theirs = await decodeSegment(existing, key);
        if (theirs.header.afterSeq !== afterSeq || !sameMessages(theirs.messages, msgs)) throw new ObjectConflictError(key);
        bytes = existing;
      }
    } else await store.put(key, bytes);
    const info: SegmentInfo = {
      partition: p, afterSeq, firstSeq: first, lastSeq: last, messages: msgs.length, bytes: bytes.byteLength, rawBytes: seg.header.rawBytes,
      sha256: bytes === seg.bytes ? seg.sha256 : sha256Hex(bytes), key, sealedAt: new Date(),
    };
    const sidecar = sidecarKey(key);
    if (unfinished?.json) {
      const theirs = parseSidecar(await store.get(sidecar), sidecar);
      if (!sameSegment(theirs, info)) throw new ObjectConflictError(sidecar);
      info.sealedAt = theirs.sealedAt;
    } else await store.put(sidecar, sidecarJson(namespace, info));
    if (!this.d.owns(p)) return false;
    await inTransaction(pool, async (c) => {
      await lockCheckpoint(c, this.d.projection, p, st.epoch);
      await insertManifest(c, info);
      const del = await c.query('DELETE FROM archive_pending WHERE partition = $1 AND stream_seq BETWEEN $2 AND $3', [p, first, last]);
      if (del.rowCount !== msgs.length) throw new Error(`partition ${p}: sealing ${first}..${last} deleted ${del.rowCount} pending messages, not ${msgs.length}`);
    });
    const s = this.d.stats;
    s.segments++;
    s.sealedMessages += info.messages;
    s.storedBytes += info.bytes;
    s.rawBytes += info.rawBytes;
    if (unfinished) s.resumed++;
    log.info({ partition: p, firstSeq: first, lastSeq: last, messages: info.messages, bytes: info.bytes, ratio: Number((info.rawBytes / info.bytes).toFixed(2)), key }, 'segment sealed');
    await this.#refresh(st);
    return true;
  }

  /** The objects a crashed seal left for the segment starting at `first` (the first such segment's, by key). */
  async #unfinished(p: number, first: number): Promise<{ lastSeq: number; seg: boolean; json: boolean } | undefined> {
    const keys = await this.d.store.list(startingAt(this.d.namespace, p, first));
    const ranges = keys.map(parseKey).filter((k): k is NonNullable<typeof k> => k !== undefined && k.firstSeq === first);
    const lastSeq = (ranges.find((k) => k.kind === 'seg') ?? ranges[0])?.lastSeq;
    if (lastSeq === undefined) return undefined;
    const has = (kind: 'seg' | 'json') => ranges.some((k) => k.kind === kind && k.lastSeq === lastSeq);
    return { lastSeq, seg: has('seg'), json: has('json') };
  }

  /** The last sequence the archive holds sealed for the partition, else where archiving began. */
  async #sealedThrough(p: number): Promise<number> {
    const r = await this.d.pool.query<{ s: string | null }>(
      `SELECT COALESCE((SELECT max(last_seq) FROM archive_segments WHERE partition = $1),
                       (SELECT after_seq FROM archive_origins WHERE partition = $1), 0) AS s`,
      [p],
    );
    return Number(r.rows[0]!.s ?? 0);
  }
}

function sameMessages(a: readonly ArchivedMessage[], b: readonly ArchivedMessage[]): boolean {
  return a.length === b.length && a.every((m, i) => {
    const o = b[i]!;
    return m.seq === o.seq && m.subject === o.subject && sameBytes(m.data, o.data) && JSON.stringify(m.headers) === JSON.stringify(o.headers);
  });
}
