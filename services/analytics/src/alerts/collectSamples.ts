import type { JetStreamManager } from '@nats-io/jetstream';
import { FLEET_AGENT_ID, type AlertMetric, type Names } from '@farmbrain/contracts';
import {
  countProjectionDeadLetters,
  readLatestTierBytes,
  readRecallP95,
  readWinCounts,
  type AlertRule,
  type MetricSample,
} from '@farmbrain/analytics';
import { sqlstateOf, type Logger, type Pool } from '@farmbrain/platform';
import { readConsumerLags } from '@farmbrain/projection';

export interface CollectDeps {
  /** The analytics schema (search_path). */
  pool: Pool;
  jsm: JetStreamManager;
  names: Names;
  /** The schemas holding projection checkpoints and dead letters (every projection version's), for projection_errors. */
  schemas: () => Promise<readonly string[]>;
  log: Logger;
}

/** The subject of fleet-wide figures. */
export const FLEET_SUBJECT = 'fleet';

type Collector = (d: CollectDeps, windowMs: number, now: number, memo: DeadLetterMemo) => Promise<MetricSample[]>;

/** The dead-letter stream's last sequence as seen at each evaluation: the rate is its growth over the window. */
export type DeadLetterMemo = { seen: { t: number; seq: number }[] };

/**
 * Dead letters per minute over the window, from the dead-letter stream's last sequence now and as seen before
 * (kept in `memo`, trimmed to the window). Before a full window, the rate over what was seen; null at the first look.
 */
export function deadLetterRate(memo: DeadLetterMemo, seq: number, now: number, windowMs: number): number | null {
  memo.seen.push({ t: now, seq });
  while (memo.seen.length > 1 && memo.seen[1]!.t <= now - windowMs) memo.seen.shift();
  const first = memo.seen[0]!;
  if (first.t >= now) return null;
  return ((seq - first.seq) * 60_000) / (now - first.t);
}

const fleet = (value: number | null, samples?: number): MetricSample => ({ subject: FLEET_SUBJECT, agentId: FLEET_AGENT_ID, value, ...(samples === undefined ? {} : { samples }) });

/** One way to measure each metric (the unit and meaning are in the README's Alerts section). */
const COLLECTORS = {
  // Pending + unacked messages of each consumer group (projection version, ingest), as `farmbrain status` counts them.
  consumer_lag: async (d) => (await readConsumerLags(d.jsm, d.names)).map((g) => ({ subject: g.group, agentId: FLEET_AGENT_ID, value: g.pending })),
  // Events ingest dead-lettered per minute over the window: growth of the DLQ stream's last sequence (trimming does not lower it).
  dead_letter_rate: async (d, windowMs, now, memo) => [fleet(deadLetterRate(memo, (await d.jsm.streams.info(d.names.deadLetterStream)).state.last_seq, now, windowMs))],
  // Bytes per tier from the newest tier sample of the window.
  tier_size: async (d, windowMs, now) => {
    const s = await readLatestTierBytes(d.pool, now - Math.max(windowMs, 2 * 60_000));
    return s ? Object.entries(s.bytes).map(([tier, bytes]) => ({ subject: tier, agentId: FLEET_AGENT_ID, value: bytes })) : [];
  },
  // Per agent: win rate over the window before minus over the window (positive: it dropped); samples: the fewer closes of the two.
  win_rate_drop: async (d, windowMs, now) => {
    const [cur, prev] = await Promise.all([readWinCounts(d.pool, { from: now - windowMs, to: now }), readWinCounts(d.pool, { from: now - 2 * windowMs, to: now - windowMs })]);
    return [...new Set([...cur.keys(), ...prev.keys()])].sort().map((agentId) => {
      const c = cur.get(agentId);
      const p = prev.get(agentId);
      if (!c || !p) return { subject: agentId, agentId, value: null, samples: 0 };
      return { subject: agentId, agentId, value: p.wins / p.closes - c.wins / c.closes, samples: Math.min(c.closes, p.closes) };
    });
  },
  // Events each projection dead-lettered in the window (0 for a projection with a checkpoint and none).
  projection_errors: async (d, windowMs, now) => {
    const out = new Map<string, number>();
    for (const schema of await d.schemas()) {
      try {
        for (const [projection, n] of await countProjectionDeadLetters(d.pool, schema, now - windowMs)) out.set(projection, (out.get(projection) ?? 0) + n);
      } catch (err) {
        // A schema not migrated yet (a version starting) has nothing to count.
        if (sqlstateOf(err) !== '42P01' && sqlstateOf(err) !== '3F000') throw err;
      }
    }
    return [...out].map(([projection, n]) => ({ subject: projection, agentId: FLEET_AGENT_ID, value: n }));
  },
  // Fleet-wide recall latency p95 (ms) over the window; samples: recalls measured.
  recall_p95: async (d, windowMs, now) => {
    const { p95, n } = await readRecallP95(d.pool, { from: now - windowMs, to: now });
    return [fleet(p95, n)];
  },
} as const satisfies { [M in AlertMetric]: Collector };

/** Per-collector state kept between evaluations. */
export interface CollectMemo {
  deadLetters: Map<number, DeadLetterMemo>;
}

export const newCollectMemo = (): CollectMemo => ({ deadLetters: new Map() });

/**
 * Measures what the enabled rules watch, once per (metric, window): samples by
 * rule name. A collector that fails is logged and its rules get no entry (the
 * evaluation leaves their alerts as they are).
 */
export async function collectSamples(d: CollectDeps, rules: readonly AlertRule[], now: number, memo: CollectMemo): Promise<Map<string, MetricSample[]>> {
  const runs = new Map<string, Promise<MetricSample[] | undefined>>();
  const out = new Map<string, MetricSample[]>();
  for (const r of rules.filter((x) => x.enabled)) {
    const key = `${r.metric}:${r.metric === 'consumer_lag' ? 0 : r.windowMs}`;
    let run = runs.get(key);
    if (!run) {
      const dl = memo.deadLetters.get(r.windowMs) ?? { seen: [] };
      memo.deadLetters.set(r.windowMs, dl);
      run = (COLLECTORS[r.metric] as Collector)(d, r.windowMs, now, dl).catch((err: unknown) => {
        d.log.warn({ err, metric: r.metric }, 'alert metric not measured this time; its alerts stay as they are');
        return undefined;
      });
      runs.set(key, run);
    }
    const s = await run;
    if (s) out.set(r.name, s);
  }
  return out;
}
