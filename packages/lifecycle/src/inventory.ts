import type { DayKind } from './policy.js';

/** Tiers a record is stored in (hot is a Redis copy of warm; deleted is a tombstone and no longer listed). */
export const STORED_TIERS = ['warm', 'cold', 'archive'] as const;
export type StoredTier = (typeof STORED_TIERS)[number];

/** The records of one agent, kind and UTC day that sit in one tier. */
export interface DayCell {
  agentId: string;
  kind: DayKind;
  /** Epoch ms of the UTC midnight of the day. */
  dayMs: number;
  tier: StoredTier;
  records: number;
  /** Highest canonical stream sequence among them: with `records`, what the planner saw (a move's identity). */
  lastSeq: number;
  /** What they take in that tier (warm: row bytes; cold: block payloads in Postgres; archive: objects in the store). 0 when unknown. */
  bytes: number;
  /** How many of them are under a legal hold of their own (an agent-wide hold is in Inventory.holds). */
  heldRecords: number;
}

/** One checkpoint (checkpoints move by id: the last N and one a day are kept). */
export interface CheckpointEntry {
  agentId: string;
  eventId: string;
  occurredAt: number;
  tier: StoredTier;
  streamSeq: number;
  bytes: number;
}

/** A memory's use, for promotion to hot and demotion to warm. */
export interface MemoryUsage {
  agentId: string;
  memoryId: string;
  tier: 'hot' | 'warm';
  /** 0..1 */
  importance: number;
  /** Recalls that returned it in the policy's window before `now`. */
  accessesInWindow: number;
  /** Epoch ms of the last recall that returned it; null when never. */
  lastAccessedAt: number | null;
}

export interface LegalHold {
  agentId: string;
  /** '' = every record of the agent. */
  recordId: string;
}

/**
 * What the planner plans from: where the records of some agents are, as of a
 * moment. readInventory builds it from Postgres; tests and the optimize dry run
 * may build it by hand.
 */
export interface Inventory {
  days: DayCell[];
  checkpoints: CheckpointEntry[];
  memories: MemoryUsage[];
  holds: LegalHold[];
  /** Cold block bytes per warm byte, for estimates (from the blocks already made; a default before any). */
  compressionRatio: number;
  /** What the inventory could not see (e.g. memory tiers not tracked by this schema). */
  notes: string[];
}

/** Before any block exists: brotli on protobuf batches of trading records typically lands around a quarter of the row bytes. */
export const DEFAULT_COMPRESSION_RATIO = 0.25;

export const emptyInventory = (): Inventory => ({ days: [], checkpoints: [], memories: [], holds: [], compressionRatio: DEFAULT_COMPRESSION_RATIO, notes: [] });
