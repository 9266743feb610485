/**
 * Rebuild progress: a bar with messages/s and ETA on a terminal (cli-progress),
 * plain lines otherwise (every 2 s), nothing with --json.
 */
import cliProgress from 'cli-progress';
import type { Io } from '../program.js';
import type { GroupLag } from './lag.js';

export interface ProgressReporter {
  /** `events`: events applied since the rebuild started (from the instances' lease records). */
  update(l: GroupLag, events: number): void;
  done(): void;
}

export function progressReporter(o: { label: string; json: boolean; tty: boolean; io: Io }): ProgressReporter {
  const t0 = performance.now();
  if (o.json) return { update: () => undefined, done: () => undefined };
  if (o.tty) {
    const bar = new cliProgress.SingleBar({
      format: `${o.label} [{bar}] {percentage}% | {value}/{total} messages | {events} events, {rate} events/s | ETA {eta_formatted}`,
      hideCursor: true, etaBuffer: 20, fps: 5,
    }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      update(l, events) {
        const done = l.running === l.partitions ? Math.max(0, l.messages - l.pending) : 0;
        const payload = { rate: Math.round(events / Math.max(0.001, (performance.now() - t0) / 1000)).toLocaleString(), events: events.toLocaleString() };
        if (!started) {
          bar.start(Math.max(1, l.messages), done, payload);
          started = true;
        } else {
          bar.setTotal(Math.max(1, l.messages));
          bar.update(done, payload);
        }
      },
      done: () => bar.stop(),
    };
  }
  let lastLine = 0;
  return {
    update(l, events) {
      if (performance.now() - lastLine < 2000) return;
      lastLine = performance.now();
      const secs = (performance.now() - t0) / 1000;
      if (l.running < l.partitions) {
        o.io.out(`${o.label}: waiting for instances to take the partitions (${l.running}/${l.partitions})\n`);
        return;
      }
      const done = Math.max(0, l.messages - l.pending);
      const rate = done / Math.max(0.001, secs);
      const eta = rate > 0 ? l.pending / rate : Number.POSITIVE_INFINITY;
      o.io.out(`${o.label}: ${done.toLocaleString()}/${l.messages.toLocaleString()} messages (${Math.floor((done / Math.max(1, l.messages)) * 100)}%), `
        + `${events.toLocaleString()} events, ${Math.round(events / Math.max(0.001, secs)).toLocaleString()} events/s, ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)} s` : '?'}\n`);
    },
    done: () => undefined,
  };
}
