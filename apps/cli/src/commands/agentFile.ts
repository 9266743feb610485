/**
 * `farmbrain export <agent>` and `farmbrain import <file>`: one agent's whole
 * memory as one file (packages/portable), taken from this deployment or
 * replayed into it. An import waits until the live projection has applied it,
 * then checks the agent's memories (embeddings and versions) and checkpoints
 * against the file: the same, or it says what differs.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { names as makeNames } from '@farmbrain/contracts';
import { connectNats, connectPostgres, MemoryKeys, type Pool } from '@farmbrain/platform';
import { agentRows, exportAgent, importAgent, parseAgentFile } from '@farmbrain/portable';
import { ProjectionRegistry } from '@farmbrain/projection';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { ExportArgs, ImportArgs, Io } from '../program.js';

async function withLive<T>(cfg: CliConfig, fn: (x: { js: ReturnType<typeof jetstream>; jsm: Awaited<ReturnType<typeof jetstreamManager>>; names: ReturnType<typeof makeNames>; pool: Pool; projection: string; keys: MemoryKeys }) => Promise<T>): Promise<T> {
  const names = makeNames(cfg.common.namespace, cfg.common.partitions);
  const nc = await connectNats(cfg.common.natsUrl, 'farmbrain-cli', { timeoutMs: 3000 });
  try {
    const registry = await ProjectionRegistry.open(nc, names);
    const reg = await registry.read('tiering', cfg.tieringProjection);
    const live = reg.versions[reg.live]!;
    const pool = await connectPostgres(cfg.common.databaseUrl, live.schema, { max: 2 });
    try {
      return await fn({ js: jetstream(nc), jsm: await jetstreamManager(nc, { timeout: 5000 }), names, pool, projection: live.name, keys: await MemoryKeys.open(nc, names.keysBucket) });
    } finally {
      await pool.end();
    }
  } finally {
    await nc.close();
  }
}

export async function exportCommand(agentId: string, a: ExportArgs, cfg: CliConfig, io: Io): Promise<number> {
  return withLive(cfg, async (deps) => {
    const known = await deps.pool.query('SELECT 1 FROM agents WHERE agent_id = $1', [agentId]);
    if (!known.rowCount) throw new CliError('UNKNOWN_AGENT', `agent '${agentId}' has recorded nothing in namespace ${deps.names.namespace}`);
    const out = resolve(a.out ?? `${agentId}.fbagent.jsonl`);
    let lines = 0;
    let bytes = 0;
    const counted = async function* () {
      for await (const l of exportAgent(deps, agentId)) {
        lines++;
        bytes += Buffer.byteLength(l);
        yield l;
      }
    };
    await pipeline(Readable.from(counted()), createWriteStream(out));
    const summary = { agentId, file: out, lines, bytes };
    io.out(a.json ? `${JSON.stringify(summary)}\n` : `agent ${agentId} exported to ${out} (${lines} lines, ${bytes} bytes). Import it elsewhere with: farmbrain import ${out}\n`);
    return 0;
  });
}

export async function importCommand(path: string, a: ImportArgs, cfg: CliConfig, io: Io): Promise<number> {
  const file = parseAgentFile(await readFile(resolve(path), 'utf8').catch((err: Error) => {
    throw new CliError('FILE_NOT_FOUND', `cannot read ${path}: ${err.message}`, { cause: err });
  }));
  const agentId = file.header.agentId;
  return withLive(cfg, async ({ js, names, pool, projection }) => {
    const exists = await pool.query('SELECT 1 FROM agents WHERE agent_id = $1', [agentId]);
    if (exists.rowCount && !a.merge) {
      throw new CliError('AGENT_EXISTS', `agent '${agentId}' already exists in namespace ${names.namespace}; import into another deployment, or pass --merge to add the file's events to it (events it already has are not applied twice)`);
    }
    const started = Date.now();
    const r = await importAgent({ js, names }, file);
    // Applied when the live projection's checkpoint of the agent's partition covers the last ingress message.
    const deadline = Date.now() + a.timeoutMs;
    for (;;) {
      const cp = await pool.query<{ s: number }>('SELECT ingress_seq AS s FROM projection_checkpoints WHERE projection = $1 AND partition = $2', [projection, r.partition]);
      if (Number(cp.rows[0]?.s ?? 0) >= r.lastIngressSeq) break;
      if (Date.now() > deadline) throw new CliError('IMPORT_NOT_APPLIED', `the events were published, but ${projection} has not applied them within ${a.timeoutMs} ms (is tiering running? farmbrain status shows its lag)`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const now = await agentRows(pool, agentId);
    const differences = compareRows(file, now);
    const summary = { ...r, memories: now.memories.length, checkpoints: now.checkpoints.length, differences, seconds: (Date.now() - started) / 1000 };
    if (differences.length > 0 && !a.merge) {
      throw new CliError('IMPORT_MISMATCH', `agent ${agentId} was imported, but ${differences.length} of its records differ from the file (first: ${differences[0]}); a different embedding model or scope policy in this deployment would explain it`);
    }
    io.out(a.json ? `${JSON.stringify(summary)}\n` : `agent ${agentId} imported: ${r.published} events (${r.skippedSystem} lifecycle events left to this deployment's policies); ${now.memories.length} memories and ${now.checkpoints.length} checkpoints, equal to the file.\n`);
    return 0;
  });
}

/** What differs between the file's records and the deployment's (by id, field by field). */
function compareRows(file: { memories: Record<string, unknown>[]; checkpoints: Record<string, unknown>[] }, now: { memories: Record<string, unknown>[]; checkpoints: Record<string, unknown>[] }): string[] {
  const out: string[] = [];
  const diff = (what: string, key: string, a: Record<string, unknown>[], b: Record<string, unknown>[]) => {
    const byId = new Map(b.map((x) => [String(x[key]), x]));
    for (const x of a) {
      const y = byId.get(String(x[key]));
      if (!y) out.push(`${what} ${String(x[key])} is missing`);
      else if (JSON.stringify(x) !== JSON.stringify(y)) {
        const fields = Object.keys(x).filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]));
        out.push(`${what} ${String(x[key])}: ${fields.join(', ')}`);
      }
    }
  };
  diff('memory', 'memory_id', file.memories, now.memories);
  diff('checkpoint', 'event_id', file.checkpoints, now.checkpoints);
  return out;
}
