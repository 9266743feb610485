import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { FarmbrainError, names as makeNames } from '@farmbrain/contracts';
import { IngressStreamMissingError } from './errors.js';
import { isNoResponders, partitionsOfSubjects } from './partitions.js';

/** What the server says about a namespace's ingress stream. */
export type IngressView =
  | { kind: 'stream'; subjects: string[] }
  | { kind: 'no-stream' }
  | { kind: 'no-jetstream' };

/**
 * Reads the ingress stream's subjects. Throws for anything it cannot tell
 * (connection lost, timeout): the caller then knows no more than before.
 */
export async function readIngress(nc: NatsConnection, stream: string, timeoutMs: number): Promise<IngressView> {
  try {
    // checkAPI: false, so this is one request, and "JetStream off" shows up as no responders here.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: timeoutMs });
    const info = await jsm.streams.info(stream);
    return { kind: 'stream', subjects: info.config.subjects ?? [] };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return { kind: 'no-stream' };
    if (isNoResponders(err)) return { kind: 'no-jetstream' };
    throw err;
  }
}

export interface DiscoverOptions {
  /** An existing connection (left open); else `servers` is connected to and closed again. */
  connection?: NatsConnection;
  servers?: string | string[];
  /** The deployment's FB_NAMESPACE. Default 'fb'. */
  namespace?: string;
  timeoutMs?: number;
}

/**
 * The deployment's partition count (its FB_PARTITIONS), read from the subjects
 * of its ingress stream, for `new FarmbrainAgent({ partitions })`. Rejects with
 * INGRESS_STREAM_MISSING when the stream does not exist (services not started,
 * or another namespace), and PARTITIONS_UNKNOWN when the stream does not list
 * its partitions (a deployment older than this SDK, or JetStream off).
 */
export async function discoverPartitions(opts: DiscoverOptions = {}): Promise<number> {
  const namespace = opts.namespace ?? 'fb';
  const stream = makeNames(namespace, 1).ingressStream;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const nc = opts.connection ?? await connect({ servers: opts.servers ?? 'nats://127.0.0.1:4222', name: 'farmbrain-discover', timeout: timeoutMs });
  try {
    const view = await readIngress(nc, stream, timeoutMs);
    if (view.kind === 'no-stream') throw new IngressStreamMissingError(stream, namespace);
    const n = view.kind === 'stream' ? partitionsOfSubjects(view.subjects, namespace) : undefined;
    if (n === undefined) {
      throw new FarmbrainError(
        'PARTITIONS_UNKNOWN',
        view.kind === 'no-jetstream'
          ? `JetStream is not enabled on the NATS server; start nats-server with -js (JetStream), then the farmbrain services`
          : `the ingress stream '${stream}' captures ${JSON.stringify(view.subjects)}, not one subject per partition, ` +
            `so its partition count cannot be read; pass the deployment's FB_PARTITIONS as partitions`,
      );
    }
    return n;
  } finally {
    if (!opts.connection) await nc.close().catch(() => undefined);
  }
}
