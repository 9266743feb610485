import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { ArchivedMessage, HeaderPairs } from './segment.js';

/** A message's headers as name/values pairs, in their order (none: []). */
export function headerPairs(h: Iterable<[string, string[]]> | undefined): HeaderPairs {
  return h ? [...h].map(([k, v]) => [k, [...v]]) : [];
}

/** An archived message in the shape the projection kit applies (a JetStream message's seq, subject, data and headers). */
export function toCanonical(m: ArchivedMessage): { seq: number; subject: string; data: Uint8Array; headers: MsgHdrs | undefined } {
  let headers: MsgHdrs | undefined;
  if (m.headers.length > 0) {
    headers = natsHeaders();
    for (const [k, vs] of m.headers) for (const v of vs) headers.append(k, v);
  }
  return { seq: m.seq, subject: m.subject, data: m.data, headers };
}
