/**
 * The wait before webhook try number `attempts + 1`, after `attempts` failed
 * tries: `backoffMs` doubled per failed try, capped at `backoffMaxMs`, then
 * jittered down by up to half ("equal jitter"), so receivers coming back after
 * an outage are not hit by every sender at once. `random` in [0, 1).
 */
export function retryDelayMs(attempts: number, o: { backoffMs: number; backoffMaxMs: number }, random: number = Math.random()): number {
  const ceiling = Math.min(o.backoffMaxMs, o.backoffMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
