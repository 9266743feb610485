import { createHash } from 'node:crypto';
import { validate as uuidValidate, version as uuidVersion } from 'uuid';

// One generator for every producer, Node or browser (browser.ts holds it: it must not import node:crypto).
export { newEventId } from './browser.js';

/**
 * A UUIDv7 derived from a time and a seed, the same every time: what a
 * component publishes for a decision it may take twice (two schedulers, a retry
 * after a crash), so the log's dedupe and the projections' claims keep one.
 */
export function derivedEventId(ms: number, seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  const b = Buffer.alloc(16);
  b.writeUIntBE(Math.max(0, Math.floor(ms)) % 2 ** 48, 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export const isUuidV7 = (s: string): boolean => uuidValidate(s) && uuidVersion(s) === 7;

/**
 * A per-agent producer sequence that keeps increasing across restarts without
 * stored state: microseconds since the epoch, bumped by one when the clock has
 * not moved (or moved back). Fits in 2^53 until the year 2255.
 */
export class HybridSequence {
  #last = 0;
  constructor(private readonly nowMicros: () => number = () => Math.floor((performance.timeOrigin + performance.now()) * 1000)) {}
  next(): number {
    const now = this.nowMicros();
    this.#last = now > this.#last ? now : this.#last + 1;
    return this.#last;
  }
}
