import { failureKind, sqlstateOf, type PoolClient } from '@farmbrain/platform';

/** Why one event could not be applied. */
export interface ApplyFailure<E> {
  event: E;
  error: Error;
  sqlstate: string | undefined;
}

/**
 * Applies `events` in one go; if that fails deterministically (the data cannot
 * be applied: a constraint, encoding or type error, a value out of range),
 * applies them again one by one, each under its own savepoint, in order, and
 * returns the ones that fail, so the caller dead-letters them and the rest of
 * the batch still applies. A transient failure (a lost connection, a deadlock)
 * is rethrown: the caller retries the whole batch in place.
 *
 * `apply` must only write through `c` (everything it does is rolled back with the savepoint).
 */
export async function applyIsolated<E, R>(
  c: PoolClient,
  events: readonly E[],
  apply: (events: readonly E[]) => Promise<R[]>,
): Promise<{ results: R[]; failed: ApplyFailure<E>[] }> {
  if (events.length === 0) return { results: [], failed: [] };
  await c.query('SAVEPOINT fb_batch');
  try {
    const results = await apply(events);
    await c.query('RELEASE SAVEPOINT fb_batch');
    return { results, failed: [] };
  } catch (err) {
    if (failureKind(err) === 'transient') throw err;
    await c.query('ROLLBACK TO SAVEPOINT fb_batch');
  }
  const results: R[] = [];
  const failed: ApplyFailure<E>[] = [];
  for (const e of events) {
    await c.query('SAVEPOINT fb_event');
    try {
      results.push(...(await apply([e])));
      await c.query('RELEASE SAVEPOINT fb_event');
    } catch (err) {
      if (failureKind(err) === 'transient') throw err;
      await c.query('ROLLBACK TO SAVEPOINT fb_event');
      failed.push({ event: e, error: err as Error, sqlstate: sqlstateOf(err) });
    }
  }
  return { results, failed };
}
