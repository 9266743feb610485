/**
 * Reads through the gateway may fail (the gateway is starting, restarting, or
 * slow). The fleet then decides without memory; the monitor says so once, and
 * once more when reads work again.
 */
import { cut, errorCode, errorMessage } from './format.js';
import type { Log } from './ports.js';
import type { FleetStats } from './stats.js';

export interface ReadMonitor {
  ok(): void;
  failed(agentId: string, what: string, err: unknown): void;
}

export function readMonitor(log: Log, stats: FleetStats): ReadMonitor {
  let failing = false;
  let failed = 0;
  return {
    ok() {
      if (!failing) return;
      log(`demo fleet: gateway reads answer again (${failed} failed meanwhile)`);
      failing = false;
      failed = 0;
    },
    failed(agentId, what, err) {
      stats.readErrors += 1;
      failed += 1;
      if (failing) return;
      failing = true;
      log(`demo fleet: ${agentId}: ${what} failed (${errorCode(err)}: ${cut(errorMessage(err), 200)}); ` +
        'agents decide without recalled memory until the gateway answers again (logged once)');
    },
  };
}
