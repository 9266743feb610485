/** `farmbrain dlq` for a person. */
import { decodeBatch, decodeEvent } from '@farmbrain/contracts';
import type { Palette } from '../output.js';
import { clip, table } from '../table.js';
import type { DeadLetter, Replayed } from './client.js';

const when = (iso: string | null): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-');

export function renderList(items: readonly DeadLetter[], more: boolean, c: Palette): string {
  if (items.length === 0) return 'no dead letters\n';
  const rows = items.map((d) => [d.id, d.source === 'projection' ? d.projection || 'projection' : 'ingest', d.agentId, d.eventType || '-', d.code, when(d.deadLetteredAt), d.replayedAt ? when(d.replayedAt) : '-', clip(d.reason, 70)]);
  const out = table(['ID', 'FROM', 'AGENT', 'TYPE', 'CODE', 'DEAD-LETTERED', 'REPLAYED', 'REASON'], rows);
  const hint = more ? c.dim('\n(more: raise --limit, or filter with --agent / --code / --source)') : '';
  return `${out}${hint}\n${c.dim('farmbrain dlq show <id> shows one; farmbrain dlq replay <id> sends it through ingest again once its cause is fixed')}\n`;
}

/** The stored event decoded: one event, the events of a whole rejected message, or null when it does not decode. */
export function decodeStored(base64: string): unknown {
  const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
  if (bytes.byteLength === 0) return null;
  try {
    return decodeEvent(bytes);
  } catch {
    try {
      const entries = decodeBatch(bytes);
      if (entries.length > 0 && entries.every((e) => e.event)) return entries.map((e) => e.event);
    } catch {
      // neither
    }
  }
  return null;
}

/** JSON of decoded events: bytes as base64. */
export const eventJson = (v: unknown, indent?: number): string =>
  JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : typeof x === 'bigint' ? x.toString() : x), indent);

export function renderShow(d: DeadLetter, c: Palette): string {
  const decoded = decodeStored(d.event);
  const rows: [string, string][] = [
    ['id', d.id],
    ['from', d.source === 'projection' ? `projection ${d.projection}` : 'ingest (rejected on the way in)'],
    ['agent', d.agentId],
    ['event', `${d.eventType || '-'} ${d.eventId ?? ''}`.trim()],
    ['code', d.code],
    ['reason', d.reason],
    ...(d.sqlstate ? [['sqlstate', d.sqlstate] as [string, string]] : []),
    ['dead-lettered', when(d.deadLetteredAt)],
    ['replayed', d.replayedAt ? when(d.replayedAt) : '-'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const head = rows.map(([k, v]) => `${c.dim(k.padEnd(w))}  ${v}`).join('\n');
  const body = decoded === null ? c.dim('(the stored message does not decode: it cannot be replayed)') : eventJson(decoded, 2);
  const hint = decoded === null || d.replayedAt ? '' : `\n${c.dim(`once the cause is fixed: farmbrain dlq replay ${d.id}`)}`;
  return `${head}\n\n${body}${hint}\n`;
}

export function renderReplayed(r: Replayed, d: { agentId?: string } | undefined, c: Palette): string {
  const list = d?.agentId ? `farmbrain dlq list --agent ${d.agentId}` : 'farmbrain dlq list';
  return `replayed ${r.id}: event ${r.eventId} is on the ingress stream (seq ${r.streamSeq}) and goes through ingest's checks again.\n`
    + c.dim(`If it fails again, it is dead-lettered again (${list} shows it: a projection's under the same id, an ingest one under a new id).${r.consistencyToken ? ` Consistency token: ${r.consistencyToken}` : ''}`) + '\n';
}
