import { v7 as uuidv7, validate as uuidValidate, version as uuidVersion } from 'uuid';

export const newEventId = (): string => uuidv7();

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
