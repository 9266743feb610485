import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { consumerGroup, FarmbrainError, type Names } from '@farmbrain/contracts';
import { openBucket } from '@farmbrain/platform';

/** Where a projection version keeps its stores. */
export interface VersionLocation {
  /** Postgres schema of its tables (and its checkpoints, claims, dead letters). */
  schema: string;
  /** Redis key prefix of its hot state, ending with ':'. */
  redisPrefix: string;
}

export interface ProjectionVersion extends VersionLocation {
  /** Versioned name: `tiering.v2`. */
  name: string;
  /** `active`: applied by the service's instances; `dropping`: being stopped, then deleted. */
  state: 'active' | 'dropping';
  createdAt: string;
}

/** What the registry says about one service's projection versions (one KV entry, changed by compare-and-set). */
export interface ServiceVersions {
  /** The version readers use (the gateway, consistency tokens). */
  live: string;
  versions: Record<string, ProjectionVersion>;
}

/** A projection version name: `<service>.v<N>` or `<service>.<word>` (safe as a consumer group and in a schema name). */
export const VERSION_PATTERN = /^[a-z][a-z0-9_]{0,15}\.[a-z0-9_]{1,12}$/;

/**
 * Where a version lives. The deployment's first version (the service's
 * configured projection name) lives in the namespace's own schema and key
 * prefix, as before versions existed; every other one in its own.
 */
export function versionLocation(n: Names, name: string, firstVersion: string): VersionLocation {
  if (name === firstVersion) return { schema: n.pgSchema, redisPrefix: n.redisPrefix };
  const group = consumerGroup(name).toLowerCase();
  const schema = `${n.pgSchema}_${group}`;
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(schema)) throw new FarmbrainError('INVALID_VERSION', `version '${name}' makes schema name '${schema}', not a plain Postgres name of at most 63 characters; use a shorter name`);
  return { schema, redisPrefix: `${n.redisPrefix}${group}:` };
}

/**
 * The registry of projection versions, on NATS KV (`<ns>_projections`, kept
 * forever): per service, which versions exist (blue/green: a rebuild adds one,
 * `drop` removes one) and which one readers use. The service's instances apply
 * every active version; the gateway follows the live one and switches without a
 * restart when it changes.
 */
export class ProjectionRegistry {
  private constructor(private readonly kv: KV, private readonly n: Names) {}

  static async open(nc: NatsConnection, n: Names): Promise<ProjectionRegistry> {
    return new ProjectionRegistry(await openBucket(nc, n.registryBucket, { history: 10 }), n);
  }

  /** The registry if it exists (read only: nothing is created, for tools that only look). */
  static async existing(nc: NatsConnection, n: Names): Promise<ProjectionRegistry | undefined> {
    try {
      const kv = await new Kvm(nc).open(n.registryBucket);
      await kv.status();
      return new ProjectionRegistry(kv, n);
    } catch {
      return undefined;
    }
  }

  /** Every service with registered versions. */
  async services(): Promise<(ServiceVersions & { service: string })[]> {
    const out: (ServiceVersions & { service: string })[] = [];
    for await (const service of await this.kv.keys()) {
      const e = await this.kv.get(service);
      if (e && e.operation === 'PUT') out.push({ service, ...e.json<ServiceVersions>() });
    }
    return out;
  }

  /** The service's versions; with nothing registered yet, its first version alone, live. */
  async read(service: string, firstVersion: string): Promise<ServiceVersions & { revision: number }> {
    const e = await this.kv.get(service);
    if (e && e.operation === 'PUT') return { ...e.json<ServiceVersions>(), revision: e.revision };
    return {
      live: firstVersion,
      versions: { [firstVersion]: { name: firstVersion, state: 'active', createdAt: new Date(0).toISOString(), ...versionLocation(this.n, firstVersion, firstVersion) } },
      revision: 0,
    };
  }

  /** Changes the service's entry by compare-and-set (retried when another writer got there first). */
  async change(service: string, firstVersion: string, fn: (s: ServiceVersions) => ServiceVersions): Promise<ServiceVersions> {
    for (let attempt = 0; ; attempt++) {
      const { revision, ...cur } = await this.read(service, firstVersion);
      const next = fn(structuredClone(cur));
      try {
        if (revision === 0) await this.kv.create(service, JSON.stringify(next));
        else await this.kv.update(service, JSON.stringify(next), revision);
        return next;
      } catch (err) {
        if (attempt >= 10 || !/wrong last sequence|exists/i.test(String((err as Error)?.message))) throw err;
      }
    }
  }

  /** Adds a version (a rebuild's target), applied by the service's instances from now on. */
  async add(service: string, firstVersion: string, name: string): Promise<ServiceVersions> {
    if (!VERSION_PATTERN.test(name) || !name.startsWith(`${service}.`)) {
      throw new FarmbrainError('INVALID_VERSION', `'${name}' is not a version name of ${service}: use ${service}.v<N> (lower case letters, digits, _)`);
    }
    return this.change(service, firstVersion, (s) => {
      const had = s.versions[name];
      if (had) throw new FarmbrainError('VERSION_EXISTS', `${name} exists already (${had.state}); rebuild under another name, or drop it first: farmbrain drop ${name}`);
      s.versions[name] = { name, state: 'active', createdAt: new Date().toISOString(), ...versionLocation(this.n, name, firstVersion) };
      return s;
    });
  }

  /** Moves readers to `name` (it must be active). */
  setLive(service: string, firstVersion: string, name: string): Promise<ServiceVersions> {
    return this.change(service, firstVersion, (s) => {
      const v = s.versions[name];
      if (!v || v.state !== 'active') throw new FarmbrainError('UNKNOWN_VERSION', `${name} is not an active version of ${service} (versions: ${Object.keys(s.versions).join(', ')}); rebuild it first: farmbrain rebuild ${service} --as ${name}`);
      s.live = name;
      return s;
    });
  }

  /** Marks a version for deletion: the instances stop applying it. The live version cannot be dropped. */
  markDropping(service: string, firstVersion: string, name: string): Promise<ServiceVersions> {
    return this.change(service, firstVersion, (s) => {
      const v = s.versions[name];
      if (!v) throw new FarmbrainError('UNKNOWN_VERSION', `${name} is not a version of ${service} (versions: ${Object.keys(s.versions).join(', ')})`);
      if (s.live === name) throw new FarmbrainError('VERSION_LIVE', `${name} is the live version of ${service}; switch readers to another one first: farmbrain switch ${service} <version>`);
      v.state = 'dropping';
      return s;
    });
  }

  /** Forgets a dropped version (its stores were deleted). */
  remove(service: string, firstVersion: string, name: string): Promise<ServiceVersions> {
    return this.change(service, firstVersion, (s) => {
      delete s.versions[name];
      return s;
    });
  }
}
