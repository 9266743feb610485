/**
 * Which processes `farmbrain start` runs: N instances of tiering, ingest and
 * the archive (they share the partitions through leases), one analytics, one gateway. Pure.
 */
import { SCALABLE, type Scalable } from '../config.js';
import { UsageError } from '../errors.js';

export type ServiceName = Scalable | 'analytics' | 'gateway';

export interface InstanceSpec {
  service: ServiceName;
  index: number;
  /** What the output calls it: the service name alone when it runs once, else `<service>-<i>`. */
  name: string;
  /** FB_INSTANCE_ID: `<service>-<i>` (the lease owner `farmbrain status` shows). */
  instanceId: string;
  /** Added to the environment of this instance. */
  env: Record<string, string>;
}

export const MAX_INSTANCES = 32;

/** `tiering=2,ingest=3` → { tiering: 2, ingest: 3 }; throws a UsageError naming what is wrong. */
export function parseInstances(text: string): Partial<Record<Scalable, number>> {
  const out: Partial<Record<Scalable, number>> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--instances takes service=N pairs separated by commas (e.g. tiering=2,ingest=2), got '${part}'`);
    const service = m[1] as Scalable;
    if (!SCALABLE.includes(service)) throw new UsageError(`--instances: '${m[1]}' cannot run several instances; only ${SCALABLE.slice(0, -1).join(', ')} and ${SCALABLE[SCALABLE.length - 1]} can`);
    const n = Number(m[2]);
    if (n < 1 || n > MAX_INSTANCES) throw new UsageError(`--instances: ${service}=${m[2]} must be from 1 to ${MAX_INSTANCES}`);
    out[service] = n;
  }
  if (Object.keys(out).length === 0) throw new UsageError('--instances needs at least one service=N (e.g. tiering=2)');
  return out;
}

/**
 * The processes to run, in start order: tiering first (its instance 0 applies
 * the migrations), then ingest, the archive, analytics, then the gateway. Instance 0 of a
 * service keeps the ops port the environment gives it (8081 ingest, 8082
 * tiering, 8083 archive, 8084 analytics by default); the others take any free port
 * (FB_<SVC>_OPS_PORT=0), which the start output prints once they listen, so no
 * two instances collide.
 */
export function planInstances(counts: Record<Scalable, number>): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (const service of ['tiering', 'ingest', 'archive'] as const) {
    const n = counts[service];
    for (let i = 0; i < n; i++) {
      const env: Record<string, string> = { FB_INSTANCE_ID: `${service}-${i}` };
      if (i > 0) env[`FB_${service.toUpperCase()}_OPS_PORT`] = '0';
      out.push({ service, index: i, name: n === 1 ? service : `${service}-${i}`, instanceId: `${service}-${i}`, env });
    }
  }
  out.push({ service: 'analytics', index: 0, name: 'analytics', instanceId: 'analytics-0', env: { FB_INSTANCE_ID: 'analytics-0' } });
  out.push({ service: 'gateway', index: 0, name: 'gateway', instanceId: 'gateway-0', env: { FB_INSTANCE_ID: 'gateway-0' } });
  return out;
}
