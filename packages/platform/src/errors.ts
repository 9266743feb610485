import { FarmbrainError } from '@farmbrain/contracts';

/** Configuration that cannot be used; the message names the variable and what it accepts. */
export class ConfigError extends FarmbrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('CONFIG_INVALID', message, options);
    this.name = 'ConfigError';
  }
}

/** A backing service (NATS, Redis, Postgres) did not answer; the message says how to start it. */
export class ServiceUnavailableError extends FarmbrainError {
  constructor(
    readonly service: 'nats' | 'redis' | 'postgres',
    readonly url: string,
    readonly hint: string,
    options?: ErrorOptions,
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('SERVICE_UNAVAILABLE', `${service} is not reachable at ${url}${cause}. ${hint}`, options);
    this.name = 'ServiceUnavailableError';
  }
}

export const START_HINTS = {
  nats: 'Start it with: nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &  (or set NATS_URL)',
  redis: 'Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no  (or set REDIS_URL)',
  postgres: 'Start it with: pg_ctlcluster --skip-systemctl-redirect 15 main start  (or set DATABASE_URL)',
} as const;
