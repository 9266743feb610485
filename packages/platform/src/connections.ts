import { connect, type NatsConnection } from '@nats-io/transport-node';
import { START_HINTS } from './errors.js';
import { natsOptions } from './nats.js';
import type { Logger } from './logger.js';

/**
 * Connects to NATS for a long-running service: waits (forever, retrying) for
 * the first connection instead of failing, saying once what it waits for, and
 * then reconnects forever. Disconnects and reconnects are logged by the health monitor.
 */
export async function openNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const waiting = setTimeout(() => log.warn({ url }, `waiting for nats at ${url}. ${START_HINTS.nats}`), 2000);
  try {
    return await connect({ ...natsOptions(url, name, 2000), waitOnFirstConnect: true });
  } finally {
    clearTimeout(waiting);
  }
}
