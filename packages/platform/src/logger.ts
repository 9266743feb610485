import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout, one line per entry, with the service name on each. */
export const createLogger = (service: string, level: string): Logger =>
  pino({ name: service, level, base: { service, pid: process.pid } });
