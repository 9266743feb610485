/** How far a consumer group is behind the canonical stream: shared with the services (see @farmbrain/projection consumerLag.ts). */
export { caughtUp, groupLag } from '@farmbrain/projection';
export type { GroupLag } from '@farmbrain/projection';
