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
import { consistencyTokenOf } from '@farmbrain/contracts';
import { agentRows, exportAgent, importAgent, parseAgentFile } from '@farmbrain/portable';
import { waitApplied } from '@farmbrain/projection';
import type { CliConfig } from '../config.js';
import { CliError } from '../errors.js';
import { withLive } from '../liveStores.js';
import type { ExportArgs, ImportArgs, Io } from '../program.js';


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
    await waitApplied(pool, { projection, partitions: names.partitions, token: consistencyTokenOf(r.partition, r.lastIngressSeq), timeoutMs: a.timeoutMs, what: 'the imported events' });
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
