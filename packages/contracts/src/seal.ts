/**
 * Crypto-shredding of memory content. Ingest encrypts the text and embedding of
 * every memory_stored / memory_updated event with the memory's own key before
 * the event reaches the canonical log (AES-256-GCM; the nonce is derived from
 * the key and the event id, so sealing the same event again gives the same
 * bytes: a retried publish is still a duplicate). Every copy of the log (the
 * stream, the archive's segments, backups of either) holds only ciphertext.
 * Erasing a memory destroys its key: what the log holds of it can no longer be
 * read by anyone, and a rebuild projects it as erased.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { farmbrain } from './gen/farmbrain.js';
import type { EventOf } from './events.js';

/** The text a sealed memory_stored event carries in the clear (the real one is in `sealed`). */
export const SEALED_TEXT = '[sealed]';
/** The text a memory shows once its key is destroyed. */
export const ERASED_TEXT = '[erased]';

const VERSION = 1;
export type SealableEvent = EventOf<'memory_stored'> | EventOf<'memory_updated'>;

export class SealError extends Error {
  readonly code = 'SEAL_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SealError';
  }
}

const aad = (e: SealableEvent) => Buffer.from(`${e.eventId}\u0000${e.data.memoryId}`);
const nonceOf = (key: Uint8Array, eventId: string) => createHmac('sha256', key).update(`nonce\u0000${eventId}`).digest().subarray(0, 12);

/** Whether the event carries content to seal (a text, or an embedding). */
export const hasContent = (e: SealableEvent): boolean => (e.data.text !== undefined && e.data.text !== '') || e.data.embedding.length > 0;

/** The event with its text and embedding sealed under `key` (32 bytes). */
export function sealEvent<E extends SealableEvent>(e: E, key: Uint8Array): E {
  if (key.length !== 32) throw new SealError('a memory key is 32 bytes');
  const plain = farmbrain.v1.SealedContent.encode({ ...(e.data.text !== undefined ? { text: e.data.text } : {}), embedding: e.data.embedding }).finish();
  const c = createCipheriv('aes-256-gcm', key, nonceOf(key, e.eventId));
  c.setAAD(aad(e));
  const body = Buffer.concat([c.update(plain), c.final()]);
  const sealed = new Uint8Array(Buffer.concat([Buffer.from([VERSION]), c.getAuthTag(), body]));
  const data = { ...e.data, embedding: [], sealed } as E['data'];
  if (e.type === 'memory_stored') (data as EventOf<'memory_stored'>['data']).text = SEALED_TEXT;
  else delete (data as EventOf<'memory_updated'>['data']).text;
  return { ...e, data };
}

/**
 * The event as it was before sealing, or, without its key (erased), with the
 * erased text and no embedding. An event that is not sealed comes back as is.
 * A key that does not open it (tampered bytes) throws SealError.
 */
export function unsealEvent<E extends SealableEvent>(e: E, key: Uint8Array | undefined): E {
  const sealed = e.data.sealed;
  if (!sealed) return e;
  const { sealed: _drop, ...rest } = e.data;
  if (!key) {
    return { ...e, data: { ...rest, embedding: [], text: ERASED_TEXT } as E['data'] };
  }
  if (sealed[0] !== VERSION || sealed.length < 17) throw new SealError(`sealed content of event ${e.eventId} has an unknown format`);
  const d = createDecipheriv('aes-256-gcm', key, nonceOf(key, e.eventId));
  d.setAAD(aad(e));
  d.setAuthTag(sealed.subarray(1, 17));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(sealed.subarray(17)), d.final()]);
  } catch (err) {
    throw new SealError(`sealed content of event ${e.eventId} does not open with memory ${e.data.memoryId}'s key`, { cause: err });
  }
  const c = farmbrain.v1.SealedContent.decode(plain);
  const data = { ...rest, embedding: c.embedding ?? [] } as E['data'];
  if (c.text != null) (data as { text?: string }).text = c.text;
  else delete (data as { text?: string }).text;
  return { ...e, data };
}
