/**
 * `farmbrain erase <agent> <memory> --reason <text> [--operator <name>]`: an
 * operator erases a memory from every store (crypto-shredding: its key is
 * destroyed, then memory_erased is put on the log and tiering scrubs Postgres
 * and Redis), and the consolidated memories derived from it with it. It waits
 * until the live projection applied the erasures, deletes the ingress and
 * dead-letter messages that held the content in the clear, and prints the
 * erasure log's rows (who, when, why; never the content).
 */
import { userInfo } from 'node:os';
import { FarmbrainError } from '@farmbrain/contracts';
import { eraseEverywhere, scrubIngress } from '@farmbrain/platform';
import { waitApplied } from '@farmbrain/projection';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import { withLive } from '../liveStores.js';
import type { EraseArgs, Io } from '../program.js';

/** Who erases when --operator is not given: the user running the CLI. */
export const defaultOperator = (): string => {
  try {
    return `${userInfo().username}@cli`.replace(/[^A-Za-z0-9_.@:-]/g, '_').slice(0, 128);
  } catch {
    return 'cli';
  }
};

export async function eraseCommand(agentId: string, memoryId: string, a: EraseArgs, cfg: CliConfig, io: Io): Promise<number> {
  return withLive(cfg, async ({ js, jsm, names, pool, projection, keys }) => {
    const operator = a.operator ?? defaultOperator();
    const done = await eraseEverywhere({ js, jsm, names, keys, pool }, { agentId, memoryId, reason: a.reason, operator }).catch((err: unknown) => {
      if (err instanceof FarmbrainError) throw new CliError(err.code, `${err.message} (namespace ${names.namespace}, projection ${projection})`, { cause: err });
      throw err;
    });
    // Applied when the live projection's checkpoints cover the erasures' ingress messages.
    await waitApplied(pool, { projection, partitions: names.partitions, token: done.consistencyToken, timeoutMs: a.timeoutMs, what: 'the erasure (the keys are destroyed and memory_erased is on the log; run this again once it is applied, to finish the scrub)' });
    const scrubbedMessages = await scrubIngress({ js, jsm, names }, done.writers, done.memoryIds);
    const log = await pool.query<{ memory_id: string; operator: string; reason: string; erased_at: Date; scrubbed: boolean; versions: number; released: string[] }>(
      'SELECT memory_id, operator, reason, erased_at, scrubbed, versions, released FROM erasures WHERE event_id = ANY($1::uuid[]) ORDER BY erased_at, memory_id',
      [done.erased.map((e) => e.eventId)],
    );
    const summary = { agentId, memoryId, erased: done.erased, scrubbedMessages, log: log.rows.map((r) => ({ ...r, erased_at: r.erased_at.toISOString() })) };
    if (a.json) io.out(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      const derived = done.erased.length - 1;
      io.out(`memory ${memoryId} of ${agentId} erased by ${operator}${derived > 0 ? `, with ${derived} consolidated memor${derived === 1 ? 'y' : 'ies'} derived from it` : ''}.\n`);
      for (const r of log.rows) {
        io.out(`  ${r.memory_id}: ${r.scrubbed ? `content removed (${r.versions} version snapshot${r.versions === 1 ? '' : 's'})` : 'already erased'}${r.released.length > 0 ? `; ${r.released.length} original(s) back in recall` : ''}\n`);
      }
      io.out(`  key destroyed: ${done.erased.filter((e) => e.keyDestroyed).length} of ${done.erased.length}; ingress/dead-letter messages deleted: ${scrubbedMessages}\n`);
    }
    return 0;
  });
}
