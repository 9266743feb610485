import { readFileSync } from 'node:fs';
import { ConfigError, readers, type Env } from '@farmbrain/platform';

/**
 * Ages are whole days, counted by UTC day: a day's records move together once
 * the whole day is older than the age (its last millisecond included). `null`
 * means never.
 */
export interface AgePolicy {
  /** warm rows → a cold block (Postgres, compressed). */
  coldAfterDays: number | null;
  /** → the archive (the block's bytes in the object store; the row keeps ids). */
  archiveAfterDays: number | null;
  /** → deleted (a tombstone with the ids), unless under legal hold. */
  deleteAfterDays: number | null;
}

export interface CheckpointPolicy {
  /** The newest N checkpoints of an agent stay where they are, whatever their age. */
  keepLast: number;
  /** The newest checkpoint of each UTC day also stays warm until archiveAfterDays. */
  keepDaily: boolean;
  /** Kept daily checkpoints (not among the last N) go to the archive after this many days. */
  archiveAfterDays: number | null;
  /** Checkpoints not among the last N are deleted after this many days, unless under legal hold. */
  deleteAfterDays: number | null;
}

export interface DecayPolicy {
  /** Opt-in: recall scores are multiplied by the decay factor only when enabled. */
  enabled: boolean;
  /** Days after which a memory's recall score is halved (since its last recall, else its creation). */
  halfLifeDays: number;
  /** The factor never goes below this (0..1): old memories fade, never vanish. */
  minFactor: number;
}

export interface MemoryPolicy {
  /** A warm memory is promoted to hot when its recalls in the window (plus its importance bonus) reach this. 0 = never. */
  promoteAccesses: number;
  promoteWindowMinutes: number;
  /** Each unit of importance (0..1) counts as this many recalls toward promoteAccesses; at least one recall is always needed. */
  importanceWeight: number;
  /** A hot memory not recalled for this long goes back to warm. */
  hotIdleMinutes: number;
  decay: DecayPolicy;
}

/** One policy per record kind. Decisions, trades and recalls move by UTC day; checkpoints by id; memories between hot and warm. */
export interface LifecyclePolicy {
  decision: AgePolicy;
  trade: AgePolicy;
  recall: AgePolicy;
  checkpoint: CheckpointPolicy;
  memory: MemoryPolicy;
}

/** The record kinds that move a whole UTC day at a time. */
export const DAY_KINDS = ['decision', 'trade', 'recall'] as const;
export type DayKind = (typeof DAY_KINDS)[number];

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}

/** Every default in one object (see the README for why these values). */
export const DEFAULT_LIFECYCLE_POLICY: LifecyclePolicy = deepFreeze({
  decision: { coldAfterDays: 7, archiveAfterDays: 90, deleteAfterDays: null },
  trade: { coldAfterDays: 7, archiveAfterDays: 90, deleteAfterDays: null },
  recall: { coldAfterDays: 3, archiveAfterDays: 30, deleteAfterDays: 365 },
  checkpoint: { keepLast: 20, keepDaily: true, archiveAfterDays: 30, deleteAfterDays: null },
  memory: {
    promoteAccesses: 3,
    promoteWindowMinutes: 60,
    importanceWeight: 2,
    hotIdleMinutes: 24 * 60,
    decay: { enabled: false, halfLifeDays: 30, minFactor: 0.05 },
  },
});

export interface LifecycleConfig {
  /** FB_LIFECYCLE=off turns the scheduler off (the policies still explain reads). */
  enabled: boolean;
  /** FB_LIFECYCLE_INTERVAL_MS: how often the scheduler plans and publishes. */
  intervalMs: number;
  policy: LifecyclePolicy;
}

export const DEFAULT_LIFECYCLE_INTERVAL_MS = 5 * 60_000;

const MAX_DAYS = 100 * 366;
const EXAMPLE = '{"recall": {"deleteAfterDays": 180}, "checkpoint": {"keepLast": 50}}';

type Shape = { [key: string]: 'days' | 'count' | 'bool' | 'minutes' | 'weight' | 'unit' | Shape };
const AGE_SHAPE: Shape = { coldAfterDays: 'days', archiveAfterDays: 'days', deleteAfterDays: 'days' };
const SHAPE: Shape = {
  decision: AGE_SHAPE,
  trade: AGE_SHAPE,
  recall: AGE_SHAPE,
  checkpoint: { keepLast: 'count', keepDaily: 'bool', archiveAfterDays: 'days', deleteAfterDays: 'days' },
  memory: {
    promoteAccesses: 'count',
    promoteWindowMinutes: 'minutes',
    importanceWeight: 'weight',
    hotIdleMinutes: 'minutes',
    decay: { enabled: 'bool', halfLifeDays: 'days', minFactor: 'unit' },
  },
};

/**
 * Parses a policy document (JSON, any subset of LifecyclePolicy) merged over
 * `base`, and checks it; throws ConfigError naming the key and what to write.
 */
export function parseLifecyclePolicy(text: string, source = 'FB_LIFECYCLE_POLICY', base: LifecyclePolicy = DEFAULT_LIFECYCLE_POLICY): LifecyclePolicy {
  const fail = (why: string): never => {
    throw new ConfigError(`${source}: ${why}. Example: ${EXAMPLE}`);
  };
  if (text.trim() === '') return checkLifecyclePolicy(structuredClone(base), source);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  const merge = (over: unknown, into: Record<string, unknown>, shape: Shape, path: string): void => {
    if (over === null || typeof over !== 'object' || Array.isArray(over)) return fail(`${path || 'the policy'} must be a JSON object`);
    for (const [k, v] of Object.entries(over)) {
      const where = path ? `${path}.${k}` : k;
      const want = shape[k];
      if (want === undefined) fail(`unknown key '${where}' (known here: ${Object.keys(shape).join(', ')})`);
      else if (typeof want === 'object') merge(v, into[k] as Record<string, unknown>, want, where);
      else into[k] = value(v, want, where, fail);
    }
  };
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  merge(raw, out, SHAPE, '');
  return checkLifecyclePolicy(out as unknown as LifecyclePolicy, source);
}

function value(v: unknown, kind: 'days' | 'count' | 'bool' | 'minutes' | 'weight' | 'unit', where: string, fail: (why: string) => never): unknown {
  switch (kind) {
    case 'bool':
      return typeof v === 'boolean' ? v : fail(`${where} must be true or false, got ${JSON.stringify(v)}`);
    case 'days':
      if (v === null && !where.endsWith('halfLifeDays')) return null;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < (where.endsWith('halfLifeDays') ? 1 : 0) || v > MAX_DAYS) {
        return fail(`${where} must be a whole number of days from ${where.endsWith('halfLifeDays') ? 1 : 0} to ${MAX_DAYS}${where.endsWith('halfLifeDays') ? '' : ', or null for never'}, got ${JSON.stringify(v)}`);
      }
      return v;
    case 'count':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000 ? v : fail(`${where} must be a whole number from 0 to 1000000, got ${JSON.stringify(v)}`);
    case 'minutes':
      return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DAYS * 1440 ? v : fail(`${where} must be a whole number of minutes from 1 to ${MAX_DAYS * 1440}, got ${JSON.stringify(v)}`);
    case 'weight':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1000 ? v : fail(`${where} must be a number from 0 to 1000, got ${JSON.stringify(v)}`);
    case 'unit':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1 ? v : fail(`${where} must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  }
}

/** Checks what parsing cannot: ages in order (cold < archive < delete, each when set). Returns the policy. */
export function checkLifecyclePolicy(p: LifecyclePolicy, source = 'FB_LIFECYCLE_POLICY'): LifecyclePolicy {
  const ordered = (kind: string, steps: [string, number | null][]): void => {
    const set = steps.filter((s): s is [string, number] => s[1] !== null);
    for (let i = 1; i < set.length; i++) {
      const [a, av] = set[i - 1]!;
      const [b, bv] = set[i]!;
      if (bv <= av) {
        throw new ConfigError(`${source}: ${kind}.${b} (${bv}) must be greater than ${kind}.${a} (${av}): records go warm → cold → archive → deleted, each later than the one before; raise ${kind}.${b} or lower ${kind}.${a}`);
      }
    }
  };
  for (const k of DAY_KINDS) ordered(k, [['coldAfterDays', p[k].coldAfterDays], ['archiveAfterDays', p[k].archiveAfterDays], ['deleteAfterDays', p[k].deleteAfterDays]]);
  ordered('checkpoint', [['archiveAfterDays', p.checkpoint.archiveAfterDays], ['deleteAfterDays', p.checkpoint.deleteAfterDays]]);
  // An idle time shorter than the window would demote a memory its recalls still promote, every interval.
  if (p.memory.hotIdleMinutes < p.memory.promoteWindowMinutes) {
    throw new ConfigError(`${source}: memory.hotIdleMinutes (${p.memory.hotIdleMinutes}) must be at least memory.promoteWindowMinutes (${p.memory.promoteWindowMinutes}), or a memory would be promoted and demoted in turn; raise memory.hotIdleMinutes`);
  }
  return p;
}

/**
 * The lifecycle settings of a service: FB_LIFECYCLE (on/off, default on),
 * FB_LIFECYCLE_INTERVAL_MS, and the policy from FB_LIFECYCLE_POLICY (inline
 * JSON) or FB_LIFECYCLE_POLICY_FILE, merged over DEFAULT_LIFECYCLE_POLICY.
 */
export function loadLifecycleConfig(env: Env): LifecycleConfig {
  const r = readers(env);
  return {
    enabled: r.bool('FB_LIFECYCLE', true),
    intervalMs: r.int('FB_LIFECYCLE_INTERVAL_MS', DEFAULT_LIFECYCLE_INTERVAL_MS, 1000, 24 * 3600_000),
    policy: loadLifecyclePolicy(env),
  };
}

/** The policy alone (FB_LIFECYCLE_POLICY or FB_LIFECYCLE_POLICY_FILE over the defaults): what readers use to explain tiers. */
export function loadLifecyclePolicy(env: Env): LifecyclePolicy {
  const inline = env.FB_LIFECYCLE_POLICY ?? '';
  const file = env.FB_LIFECYCLE_POLICY_FILE ?? '';
  if (inline !== '' && file !== '') throw new ConfigError('set FB_LIFECYCLE_POLICY or FB_LIFECYCLE_POLICY_FILE, not both');
  if (file === '') return parseLifecyclePolicy(inline, 'FB_LIFECYCLE_POLICY');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`FB_LIFECYCLE_POLICY_FILE=${file} cannot be read: ${(err as Error).message}`);
  }
  return parseLifecyclePolicy(text, `FB_LIFECYCLE_POLICY_FILE=${file}`);
}
