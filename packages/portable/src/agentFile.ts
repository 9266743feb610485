/**
 * The agent file: one agent's whole memory as one JSON Lines document.
 *
 *   {"format":"farmbrain-agent/1", "agentId", "exportedAt", "source", counts…}   header
 *   {"event": <base64 protobuf Event>}                                          every event of the agent, in log order
 *   {"memory": {…row, "embedding": <base64 float32 LE>, "versions": […]}}       each memory it wrote, as projected
 *   {"checkpoint": {…row, "state": <base64>}}                                   each checkpoint it saved
 *   {"end": true, "events", "memories", "checkpoints", "sha256": <of every line before>}   a cut or changed file is refused
 *
 * The events are what an import replays: the memories and checkpoints are the
 * source's view of them, which the import checks the target against.
 */
import { createHash } from 'node:crypto';
import { decodeEvent, FarmbrainError, type FarmEvent } from '@farmbrain/contracts';

export const AGENT_FILE_FORMAT = 'farmbrain-agent/1';

export interface AgentFileHeader {
  format: typeof AGENT_FILE_FORMAT;
  agentId: string;
  exportedAt: string;
  /** The deployment it came from (namespace) and the embedding models its memories carry. */
  source: { namespace: string; embeddingModels: string[] };
}

export interface AgentFileCounts {
  events: number;
  memories: number;
  checkpoints: number;
}

export type ExportedMemory = Record<string, unknown> & { memory_id: string; embedding: string | null; versions: Record<string, unknown>[] };
export type ExportedCheckpoint = Record<string, unknown> & { event_id: string; state: string };

export interface AgentFile {
  header: AgentFileHeader;
  counts: AgentFileCounts;
  events: FarmEvent[];
  memories: ExportedMemory[];
  checkpoints: ExportedCheckpoint[];
}

export class AgentFileError extends FarmbrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_AGENT_FILE', message, options);
    this.name = 'AgentFileError';
  }
}

/** Writes the lines of an agent file (each with its newline), the checksum line last. */
export async function* agentFileLines(header: AgentFileHeader, body: AsyncIterable<{ event: string } | { memory: ExportedMemory } | { checkpoint: ExportedCheckpoint }>): AsyncGenerator<string> {
  const h = createHash('sha256');
  const counts: AgentFileCounts = { events: 0, memories: 0, checkpoints: 0 };
  const line = (o: unknown) => {
    const s = `${JSON.stringify(o)}\n`;
    h.update(s);
    return s;
  };
  yield line(header);
  for await (const o of body) {
    if ('event' in o) counts.events++;
    else if ('memory' in o) counts.memories++;
    else counts.checkpoints++;
    yield line(o);
  }
  yield `${JSON.stringify({ end: true, ...counts, sha256: h.digest('hex') })}\n`;
}

/** Parses and checks an agent file: format, checksum, counts, every event decodes and is the agent's. */
export function parseAgentFile(text: string): AgentFile {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const last = lines.pop();
  let end: Partial<AgentFileCounts> & { end?: boolean; sha256?: string } = {};
  try {
    end = JSON.parse(last ?? '{}') as typeof end;
  } catch {
    /* reported below */
  }
  if (!end.end || typeof end.sha256 !== 'string') throw new AgentFileError('the agent file has no end line: it was cut short; export it again');
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l}\n`);
  if (h.digest('hex') !== end.sha256) throw new AgentFileError('the agent file does not match its checksum: it was changed or damaged after export');
  const [first, ...rest] = lines;
  const header = JSON.parse(first ?? '{}') as AgentFileHeader;
  if (header.format !== AGENT_FILE_FORMAT) throw new AgentFileError(`not a farmbrain agent file (format '${String(header.format)}'; this farmbrain reads ${AGENT_FILE_FORMAT})`);
  const counts: AgentFileCounts = { events: end.events ?? -1, memories: end.memories ?? -1, checkpoints: end.checkpoints ?? -1 };
  const out: AgentFile = { header, counts, events: [], memories: [], checkpoints: [] };
  for (const [i, l] of rest.entries()) {
    const o = JSON.parse(l) as { event?: string; memory?: ExportedMemory; checkpoint?: ExportedCheckpoint };
    if (o.event !== undefined) {
      let e: FarmEvent;
      try {
        e = decodeEvent(Buffer.from(o.event, 'base64'));
      } catch (err) {
        throw new AgentFileError(`line ${i + 2}: the event does not decode (${(err as Error).message})`, { cause: err });
      }
      if (e.agentId !== header.agentId) throw new AgentFileError(`line ${i + 2}: an event of agent '${e.agentId}' in the file of '${header.agentId}'`);
      out.events.push(e);
    } else if (o.memory) out.memories.push(o.memory);
    else if (o.checkpoint) out.checkpoints.push(o.checkpoint);
  }
  if (out.events.length !== counts.events || out.memories.length !== counts.memories || out.checkpoints.length !== counts.checkpoints) {
    throw new AgentFileError(`the agent file holds ${out.events.length} events, ${out.memories.length} memories, ${out.checkpoints.length} checkpoints; its end line says ${counts.events}, ${counts.memories}, ${counts.checkpoints}`);
  }
  return out;
}
