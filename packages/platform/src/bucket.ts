import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';

/** Opens a KV bucket, creating it with `opts` when it does not exist (another process may create it at the same moment). */
export async function openBucket(nc: NatsConnection, name: string, opts: Partial<KvOptions>): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const kv = await kvm.open(name);
    await kv.status();
    return kv;
  } catch {
    try {
      return await kvm.create(name, opts);
    } catch (err) {
      if (!/already in use|exists/i.test(String((err as Error)?.message))) throw err;
      return kvm.open(name);
    }
  }
}
