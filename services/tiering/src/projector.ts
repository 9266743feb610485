import type { JsMsg } from '@nats-io/jetstream';
import { decodeBatch } from '@farmbrain/contracts';
import { inTransaction, type Logger, type Pool } from '@farmbrain/platform';
import { buildHotOps, type HotStore } from './hot/hotStore.js';
import { applyWarm, readCheckpoint, readHotSnapshots, saveCheckpoint, type SeqEvent } from './warm/warmStore.js';

export interface ProjectorDeps {
  pool: Pool;
  hot: HotStore;
  log: Logger;
  projection: string;
}

export interface TieringStats {
  batches: number;
  events: number;
  skippedReplays: number;
}

/** A message body in the canonical stream as (stream seq, events). */
export function eventsOf(msgs: readonly Pick<JsMsg, 'seq' | 'data'>[], log: Logger): SeqEvent[] {
  const out: SeqEvent[] = [];
  for (const m of msgs) {
    try {
      for (const entry of decodeBatch(m.data)) if (entry.event) out.push({ ...entry.event, streamSeq: m.seq });
    } catch (err) {
      // ingest only forwards what decodes; anything else on the canonical stream is skipped loudly.
      log.error({ err, seq: m.seq }, 'undecodable message on the canonical stream; skipped');
    }
  }
  return out;
}

/**
 * The batch handler of one partition. Warm: one Postgres transaction applies the
 * messages above the checkpoint and moves the checkpoint. Hot: after commit,
 * Redis gets the ops of the whole batch (replayed messages included, since a
 * crash may have come between the commit and Redis), each guarded by sequence.
 * The worker acks only after both.
 */
export function createTieringHandler({ pool, hot, log, projection }: ProjectorDeps, partition: number, stats: TieringStats) {
  return async (msgs: readonly JsMsg[]): Promise<void> => {
    const events = eventsOf(msgs, log);
    const lastSeq = msgs[msgs.length - 1]!.seq;
    const snaps = await inTransaction(pool, async (c) => {
      const checkpoint = await readCheckpoint(c, projection, partition);
      const fresh = events.filter((e) => e.streamSeq > checkpoint);
      stats.skippedReplays += events.length - fresh.length;
      await applyWarm(c, fresh);
      const s = await readHotSnapshots(c, events);
      if (lastSeq > checkpoint) await saveCheckpoint(c, projection, partition, lastSeq);
      return s;
    });
    await hot.apply(buildHotOps(events, snaps));
    stats.batches += 1;
    stats.events += events.length;
  };
}
