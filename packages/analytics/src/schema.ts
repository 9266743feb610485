import { fileURLToPath } from 'node:url';

/** The projection's name: its checkpoints, claims, dead letters, consumer group (`analytics_v1`) and durables. */
export const ANALYTICS_PROJECTION = 'analytics.v1';

/**
 * The Postgres schema of a namespace's analytics (`<ns>_analytics`). The reads of this package expect a pool
 * whose search_path is this schema (createPool(url, analyticsSchema(n))).
 */
export const analyticsSchema = (n: { pgSchema: string }): string => `${n.pgSchema}_analytics`;

/** The rollup tables' migrations, applied after the store's (which bring the projection kit's tables). */
export const ANALYTICS_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
