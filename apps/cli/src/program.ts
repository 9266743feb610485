/**
 * The command line: commands, options and how their values are checked
 * (commander). The handlers do the work; `runCli` maps what happens to an exit
 * code: 0 done, 1 an error, 2 a usage error.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AGENT_ID_PATTERN } from '@farmbrain/contracts';
import { VERSION_PATTERN } from '@farmbrain/projection';
import type { Scalable } from './config.js';
import { describeError, EXIT, exitCodeOf, UsageError } from './errors.js';
import { parseInstances } from './start/instances.js';

export interface StartArgs {
  demo: boolean;
  agents: number;
  port: number | undefined;
  instances: Partial<Record<Scalable, number>>;
  json: boolean;
}
export interface DemoArgs {
  agents: number | undefined;
  gateway: string | undefined;
  json: boolean;
}
export interface StatusArgs {
  json: boolean;
}
export interface DlqListArgs {
  agent: string | undefined;
  code: string | undefined;
  source: 'ingest' | 'projection' | 'all';
  limit: number;
  gateway: string | undefined;
  json: boolean;
}
export interface DlqOneArgs {
  gateway: string | undefined;
  json: boolean;
}

export interface RebuildArgs { as: string; wait: boolean; json: boolean }
export interface SwitchArgs { maxLag: number; gateway: string | undefined; json: boolean }
export interface DropArgs { timeoutMs: number; json: boolean }
export interface BackupArgs { out: string | undefined; json: boolean }
export interface RestoreArgs { replace: boolean; json: boolean }
export interface ExportArgs { out: string | undefined; json: boolean }
export interface ImportArgs { merge: boolean; timeoutMs: number; json: boolean }
export interface EraseArgs { reason: string; operator: string | undefined; timeoutMs: number; json: boolean }
export interface ConsolidateArgs { dryRun: boolean; threshold: number | undefined; minTagOverlap: number | undefined; timeoutMs: number; gateway: string | undefined; json: boolean }
export interface AnalyticsRebuildArgs { timeoutMs: number; json: boolean }
export interface OptimizeArgs { dryRun: boolean; steps: string[] | undefined; timeoutMs: number; gateway: string | undefined; json: boolean }

/** What each command does; each resolves with its exit code. */
export interface Handlers {
  rebuild(service: string, a: RebuildArgs): Promise<number>;
  switch(service: string, version: string, a: SwitchArgs): Promise<number>;
  drop(version: string, a: DropArgs): Promise<number>;
  start(a: StartArgs): Promise<number>;
  demo(a: DemoArgs): Promise<number>;
  status(a: StatusArgs): Promise<number>;
  dlqList(a: DlqListArgs): Promise<number>;
  dlqShow(id: string, a: DlqOneArgs): Promise<number>;
  dlqReplay(id: string, a: DlqOneArgs): Promise<number>;
  backup(a: BackupArgs): Promise<number>;
  restore(dir: string, a: RestoreArgs): Promise<number>;
  export(agentId: string, a: ExportArgs): Promise<number>;
  import(file: string, a: ImportArgs): Promise<number>;
  optimize(a: OptimizeArgs): Promise<number>;
  erase(agentId: string, memoryId: string, a: EraseArgs): Promise<number>;
  consolidate(agentId: string, a: ConsolidateArgs): Promise<number>;
  analyticsRebuild(a: AnalyticsRebuildArgs): Promise<number>;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const integer = (name: string, min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got '${v}'`);
  return n;
};

const unit = (name: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a number from 0 to 1, got '${v}'`);
  return n;
};

const url = (v: string): string => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`'${v}' is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`'${v}' must be an http:// or https:// URL`);
  return v.replace(/\/+$/, '');
};

const agentId = (v: string): string => {
  if (!AGENT_ID_PATTERN.test(v)) throw new InvalidArgumentError(`'${v}' is not an agent id ([A-Za-z0-9_-], 1 to 64 characters)`);
  return v;
};

const reasonCode = (v: string): string => {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(v)) throw new InvalidArgumentError(`'${v}' is not a reason code (e.g. SCOPE_FORBIDDEN)`);
  return v.toUpperCase();
};

const deadLetterId = (v: string): string => {
  if (!/^[pi]:\d{1,15}$/.test(v)) throw new InvalidArgumentError(`'${v}' is not a dead letter id: p:<n> (a projection's) or i:<n> (ingest's), as farmbrain dlq list shows them`);
  return v;
};

const version = (v: string): string => {
  if (!VERSION_PATTERN.test(v)) throw new InvalidArgumentError(`'${v}' is not a version name (e.g. tiering.v2: lower case letters, digits, _)`);
  return v;
};

const instances = (v: string): Partial<Record<Scalable, number>> => {
  try {
    return parseInstances(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

const GATEWAY_HELP = 'the gateway (default FB_GATEWAY_URL, else http://FB_GATEWAY_HOST:FB_GATEWAY_PORT, http://127.0.0.1:8080)';

const ENVIRONMENT = `
Environment:
  NATS_URL       default nats://127.0.0.1:4222
  REDIS_URL      default redis://127.0.0.1:6379
  DATABASE_URL   default postgres://postgres@127.0.0.1:5432/test
  FB_NAMESPACE   default fb         (streams, Redis keys and Postgres schema)
  FB_PARTITIONS  default 8
  FB_GATEWAY_URL where the client commands find the gateway
  FB_GATEWAY_HOST / FB_GATEWAY_PORT  default 127.0.0.1 / 8080
`;

const START_HELP = `
Starts the farmbrain services (tiering, ingest, archive, analytics, gateway) and a demo fleet of
simulated trading agents. NATS, Redis and Postgres must already be running.
A service that exits is restarted (after 0.5 s, 1 s, 2 s … up to 30 s);
Ctrl-C stops everything.
${ENVIRONMENT}  FB_TIERING_INSTANCES, FB_INGEST_INSTANCES, FB_ARCHIVE_INSTANCES  instances (default 1; --instances wins)
  LOG_LEVEL      default info
  FB_SCOPE_POLICY, FB_SCOPE_POLICY_FILE
                 who may write team and fleet memories (JSON). Default with the
                 demo: each team's lead its team, risk-desk the fleet; set either
                 (even empty) to use your own instead
  FB_DEMO_TICK_MS, FB_DEMO_SEED      demo fleet speed (default 500) and seed (default 42)

Each instance gets FB_INSTANCE_ID=<service>-<i>. Instance 0 keeps its ops port
(FB_<SERVICE>_OPS_PORT, FB_OPS_PORT, else 8081 ingest, 8082 tiering, 8083 archive, 8084 analytics); the others
take a free port, printed when they listen.

Everything is kept in the namespace across runs (the demo's agents recall what
earlier runs remembered); pick another FB_NAMESPACE to start from scratch.

Examples:
  farmbrain start
  farmbrain start --no-demo --port 9090
  farmbrain start --instances tiering=2,ingest=2
`;

/** The program; `exitOverride` makes commander throw instead of exiting (runCli maps it). */
export function buildProgram(h: Handlers, io: Io): { program: Command; code: () => number } {
  let code: number = EXIT.ok;
  const done = (c: number) => {
    code = c;
  };
  const program = new Command('farmbrain')
    .description('farmbrain: event-sourced memory for fleets of AI trading agents')
    .showHelpAfterError('(run with --help for the options)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .enablePositionalOptions()
    .addHelpText('after', ENVIRONMENT);

  program.command('start')
    .description('run the stack: tiering, ingest, the gateway (supervised), and a demo fleet')
    .option('--no-demo', 'do not start the demo fleet')
    .addOption(new Option('--agents <n>', 'number of demo agents (0: no demo)').argParser(integer('--agents', 0, 200)).default(6))
    .addOption(new Option('--port <p>', 'gateway port (default FB_GATEWAY_PORT or 8080)').argParser(integer('--port', 1, 65535)))
    .addOption(new Option('--instances <list>', 'instances per service, e.g. tiering=2,ingest=2').argParser(instances))
    .option('--json', 'one JSON object per line instead of the pretty output')
    .addHelpText('after', START_HELP)
    .action(async (o: { demo: boolean; agents: number; port?: number; instances?: Partial<Record<Scalable, number>>; json?: boolean }) => {
      done(await h.start({ demo: o.demo && o.agents > 0, agents: o.agents > 0 ? o.agents : 6, port: o.port, instances: o.instances ?? {}, json: Boolean(o.json) }));
    });

  program.command('demo')
    .description('run only the demo fleet, against a running stack (Ctrl-C stops it)')
    .addOption(new Option('--agents <n>', 'number of demo agents (default FB_DEMO_AGENTS or 6)').argParser(integer('--agents', 1, 200)))
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON object per line')
    .addHelpText('after', '\nThe services should run with the demo\'s scope policy (farmbrain start does that); else shared memories stay private.\n')
    .action(async (o: { agents?: number; gateway?: string; json?: boolean }) => {
      done(await h.demo({ agents: o.agents, gateway: o.gateway, json: Boolean(o.json) }));
    });

  program.command('status')
    .description('per consumer group and partition: the owner instance, lag, checkpoint, last error')
    .option('--json', 'one JSON document')
    .addHelpText('after', `\nReads JetStream (consumers), the lease bucket (owners, members) and Postgres (checkpoints) of FB_NAMESPACE.\n${ENVIRONMENT}`)
    .action(async (o: { json?: boolean }) => {
      done(await h.status({ json: Boolean(o.json) }));
    });

  program.command('rebuild')
    .description('rebuild a projection from the log into a new version (its own schema and Redis prefix) while the live one serves')
    .argument('<service>', 'the service whose projection to rebuild (tiering)')
    .requiredOption('--as <version>', 'the new version\'s name, e.g. tiering.v2', version)
    .option('--no-wait', 'register the version and return (the instances rebuild it in the background)')
    .option('--json', 'one JSON document at the end (no progress bar)')
    .addHelpText('after', '\nThe running instances of the service apply the new version from the first message of the log; progress shows messages/s and ETA.\nThen: farmbrain switch <service> <version>, and later farmbrain drop <old version>.\n')
    .action(async (service: string, o: { as: string; wait: boolean; json?: boolean }) => {
      done(await h.rebuild(service, { as: o.as, wait: o.wait, json: Boolean(o.json) }));
    });

  program.command('switch')
    .description('move readers (the gateway, consistency tokens) to another version, atomically, without a restart')
    .argument('<service>', 'tiering')
    .argument('<version>', 'e.g. tiering.v2', version)
    .addOption(new Option('--max-lag <n>', 'most messages the version may be behind the log').argParser(integer('--max-lag', 0, 1_000_000_000)).default(1000))
    .addOption(new Option('--gateway <url>', `${GATEWAY_HELP}, asked to confirm`).argParser(url))
    .option('--json', 'one JSON document')
    .action(async (service: string, v: string, o: { maxLag: number; gateway?: string; json?: boolean }) => {
      done(await h.switch(service, v, { maxLag: o.maxLag, gateway: o.gateway, json: Boolean(o.json) }));
    });

  program.command('drop')
    .description('delete a version that readers no longer use: its schema, Redis keys and durables')
    .argument('<version>', 'e.g. tiering.v1', version)
    .addOption(new Option('--timeout <ms>', 'how long to wait for the instances to stop applying it').argParser(integer('--timeout', 1000, 600_000)).default(60_000))
    .option('--json', 'one JSON document')
    .action(async (v: string, o: { timeout: number; json?: boolean }) => {
      done(await h.drop(v, { timeoutMs: o.timeout, json: Boolean(o.json) }));
    });

  const analytics = program.command('analytics').description('the analytics projection (rollups, alerts)');
  analytics.command('rebuild')
    .description('empty the analytics projection so that the analytics service replays the whole log at its next start')
    .addOption(new Option('--timeout <ms>', 'how long to wait for stopped analytics instances to hand their leases back').argParser(integer('--timeout', 0, 600_000)).default(15_000))
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nStop the analytics service first (it refuses while an instance runs), then start it again: it rebuilds every rollup\nfrom the log (drops <namespace>_analytics and the analytics_v1 durables; tier samples, which are not on the log, restart empty).\n')
    .action(async (o: { timeout: number; json?: boolean }) => {
      done(await h.analyticsRebuild({ timeoutMs: o.timeout, json: Boolean(o.json) }));
    });

  program.command('backup')
    .description('write a consistent backup of the deployment\'s Postgres stores (every schema, one snapshot, with checksums)')
    .option('--out <dir>', 'where to write the bundle (default backups/<namespace>-<time>)')
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nRedis is not backed up: tiering rebuilds every hot copy from Postgres. The log stays in JetStream and the archive;\nthe restored checkpoints say where each projection resumes.\n')
    .action(async (o: { out?: string; json?: boolean }) => {
      done(await h.backup({ out: o.out, json: Boolean(o.json) }));
    });

  program.command('restore')
    .description('restore a backup into this deployment; nothing live is touched before the whole copy succeeded')
    .argument('<dir>', 'a bundle farmbrain backup wrote')
    .option('--replace', 'put the backup in place of schemas that hold data (they are kept, renamed aside)')
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nThe services must be stopped. Every file is checked against its checksum first; the rows are loaded into staging\nschemas and counted, then all schemas are put in place in one transaction.\n')
    .action(async (dir: string, o: { replace?: boolean; json?: boolean }) => {
      done(await h.restore(dir, { replace: Boolean(o.replace), json: Boolean(o.json) }));
    });

  program.command('export')
    .description('write one agent\'s whole memory to one file: its events, memories (embeddings, versions) and checkpoints')
    .argument('<agent>', 'the agent id', agentId)
    .option('--out <file>', 'where to write it (default <agent>.fbagent.jsonl)')
    .option('--json', 'one JSON document')
    .action(async (id: string, o: { out?: string; json?: boolean }) => {
      done(await h.export(id, { out: o.out, json: Boolean(o.json) }));
    });

  program.command('import')
    .description('replay an agent file into this deployment, then check its memories and checkpoints equal the file\'s')
    .argument('<file>', 'a file farmbrain export wrote')
    .option('--merge', 'add to an agent that already exists here (events it has are not applied twice)')
    .addOption(new Option('--timeout <ms>', 'how long to wait for tiering to apply it').argParser(integer('--timeout', 1000, 3_600_000)).default(60_000))
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nThe events go through this deployment\'s ingest (checked as any write, except for their age) with their own ids;\nthe source\'s tier moves and legal holds are left out: this deployment\'s policies apply.\n')
    .action(async (file: string, o: { merge?: boolean; timeout: number; json?: boolean }) => {
      done(await h.import(file, { merge: Boolean(o.merge), timeoutMs: o.timeout, json: Boolean(o.json) }));
    });

  program.command('optimize')
    .description('apply the lifecycle policies now, consolidate memories, compact cold blocks, VACUUM and trim Redis (through the gateway)')
    .option('--dry-run', 'show what it would do, with the bytes per tier it would save; change nothing')
    .addOption(new Option('--step <steps>', 'these steps only, comma-separated: retention, consolidation, compaction, vacuum, redis')
      .argParser((v: string) => {
        const steps = v.split(',').map((x) => x.trim()).filter(Boolean);
        const bad = steps.find((x) => !['retention', 'consolidation', 'compaction', 'vacuum', 'redis'].includes(x));
        if (bad !== undefined || steps.length === 0) throw new InvalidArgumentError(`'${bad ?? v}' is not a step: retention, consolidation, compaction, vacuum, redis`);
        return [...new Set(steps)];
      }))
    .addOption(new Option('--timeout <ms>', 'how long to wait for the run').argParser(integer('--timeout', 1000, 3_600_000)).default(600_000))
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nEvery move is a records_moved event on the log, applied by tiering (a rebuild makes the same tiers); each step\nwaits for the one before to be applied. Exit 1 when tiering refused a move (see farmbrain dlq list).\n')
    .action(async (o: { dryRun?: boolean; step?: string[]; timeout: number; gateway?: string; json?: boolean }) => {
      done(await h.optimize({ dryRun: Boolean(o.dryRun), steps: o.step, timeoutMs: o.timeout, gateway: o.gateway, json: Boolean(o.json) }));
    });

  program.command('erase')
    .description('erase a memory from every store (its key is destroyed; Postgres, Redis and the ingress copies are scrubbed), logged without the content')
    .argument('<agent>', 'the agent whose memory it is', agentId)
    .argument('<memory>', 'the memory id')
    .requiredOption('--reason <text>', 'why (kept in the erasure log: never the content)')
    .option('--operator <name>', 'who erases (kept in the erasure log; default <user>@cli)')
    .addOption(new Option('--timeout <ms>', 'how long to wait for tiering to apply it').argParser(integer('--timeout', 1000, 3_600_000)).default(60_000))
    .option('--json', 'one JSON document')
    .addHelpText('after', '\nConsolidated memories derived from it are erased with it. Every copy of the log (stream, archive, backups) holds only\nciphertext of it, which can no longer be opened; a rebuild projects it as erased. GET /v1/erasures lists the log.\n')
    .action(async (agent: string, memory: string, o: { reason: string; operator?: string; timeout: number; json?: boolean }) => {
      done(await h.erase(agent, memory, { reason: o.reason, operator: o.operator, timeoutMs: o.timeout, json: Boolean(o.json) }));
    });

  program.command('consolidate')
    .description("merge an agent's near-duplicate memories into canonical ones (the originals leave recall, stay readable), through the gateway")
    .argument('<agent>', 'the agent id', agentId)
    .option('--dry-run', 'show the groups it would merge; publish nothing')
    .addOption(new Option('--threshold <x>', 'cosine similarity of near-duplicates, 0..1 (default 0.9)').argParser(unit('--threshold')))
    .addOption(new Option('--min-tag-overlap <x>', 'least Jaccard overlap of their tags, 0..1 (default 0.75)').argParser(unit('--min-tag-overlap')))
    .addOption(new Option('--timeout <ms>', 'how long to wait for the gateway').argParser(integer('--timeout', 1000, 3_600_000)).default(120_000))
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON document')
    .action(async (agent: string, o: { dryRun?: boolean; threshold?: number; minTagOverlap?: number; timeout: number; gateway?: string; json?: boolean }) => {
      done(await h.consolidate(agent, { dryRun: Boolean(o.dryRun), threshold: o.threshold, minTagOverlap: o.minTagOverlap, timeoutMs: o.timeout, gateway: o.gateway, json: Boolean(o.json) }));
    });

  const dlq = program.command('dlq').description('dead letters: list, show, replay (through the gateway)');
  dlq.command('list')
    .description('list dead letters, newest first')
    .addOption(new Option('--agent <id>', 'only this agent\'s').argParser(agentId))
    .addOption(new Option('--code <code>', 'only this reason code (e.g. SCOPE_FORBIDDEN, UNKNOWN_MEMORY)').argParser(reasonCode))
    .addOption(new Option('--source <source>', 'ingest (rejected on the way in), projection (could not apply), or all').choices(['all', 'ingest', 'projection']).default('all'))
    .addOption(new Option('--limit <n>', 'at most this many').argParser(integer('--limit', 1, 500)).default(20))
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON document')
    .action(async (o: { agent?: string; code?: string; source: 'all' | 'ingest' | 'projection'; limit: number; gateway?: string; json?: boolean }) => {
      done(await h.dlqList({ agent: o.agent, code: o.code, source: o.source, limit: o.limit, gateway: o.gateway, json: Boolean(o.json) }));
    });
  dlq.command('show')
    .description('one dead letter, with its event decoded')
    .argument('<id>', 'p:<n> or i:<n>, as listed', deadLetterId)
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON document')
    .action(async (id: string, o: { gateway?: string; json?: boolean }) => {
      done(await h.dlqShow(id, { gateway: o.gateway, json: Boolean(o.json) }));
    });
  dlq.command('replay')
    .description('send a dead letter\'s event through ingest again, once its cause is fixed')
    .argument('<id>', 'p:<n> or i:<n>, as listed', deadLetterId)
    .addOption(new Option('--gateway <url>', GATEWAY_HELP).argParser(url))
    .option('--json', 'one JSON document')
    .action(async (id: string, o: { gateway?: string; json?: boolean }) => {
      done(await h.dlqReplay(id, { gateway: o.gateway, json: Boolean(o.json) }));
    });

  for (const c of [program, dlq, ...program.commands, ...dlq.commands]) c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  return { program, code: () => code };
}

/** Parses `argv` (without node and the script) and runs the command; resolves with the exit code. */
export async function runCli(argv: readonly string[], h: Handlers, io: Io): Promise<number> {
  const { program, code } = buildProgram(h, io);
  const json = argv.includes('--json');
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      // commander has printed the message (and the pointer to --help).
      if (err.code === 'commander.executeSubCommandAsync') return EXIT.error;
      return EXIT.usage;
    }
    io.err(describeError(err, json));
    return exitCodeOf(err);
  }
}

export { UsageError };
