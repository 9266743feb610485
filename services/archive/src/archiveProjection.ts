import type { Projection } from '@farmbrain/projection';
import { ARCHIVE_PROJECTION } from './config.js';
import { insertPending } from './pending.js';
import type { PartitionState, Sealer } from './sealer.js';

/**
 * The archive as a projection of the canonical log (`archive.v1`, on the
 * kit): each batch's messages above the checkpoint are stored verbatim as
 * pending, in the batch's transaction with the checkpoint (so each message is
 * stored exactly once, whatever is redelivered); after the commit the sealer
 * seals them into segments when one is due. Nothing is decoded: the archive
 * keeps what the stream held, undecodable messages included.
 */
export function archiveProjection(sealer: Sealer): Projection<PartitionState> {
  return {
    name: ARCHIVE_PROJECTION,
    raw: true,
    open: (p, epoch, checkpoint) => sealer.open(p, epoch, checkpoint),
    apply: async () => undefined,
    onBatch: async (tx, ctx) => {
      ctx.state.inTx = await insertPending(tx, ctx.partition, ctx.batch.messages.filter((m) => m.seq > ctx.checkpoint));
    },
    afterCommit: async (_events, ctx) => sealer.committed(ctx.state),
    close: (p) => sealer.close(p),
  };
}
