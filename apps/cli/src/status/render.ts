/** `farmbrain status` for a person: a compact table, the members of each group, and what could not be known. */
import type { Palette } from '../output.js';
import { clip, table } from '../table.js';
import type { LastError, StatusReport } from './report.js';

const dash = (v: number | string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));
const time = (iso: string | null): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '');

function errorCell(e: LastError | null): string {
  if (!e) return '-';
  const at = e.at ? ` (${time(e.at).slice(11) || e.at})` : '';
  return `${clip(e.message, 60)}${at}`;
}

export function renderStatus(r: StatusReport, c: Palette): string {
  const lines: string[] = [];
  lines.push(c.bold(`namespace ${r.namespace}`) + c.dim(` · ${r.partitions} partitions · lease bucket ${r.leaseBucket}${r.leases ? '' : ' (absent)'} · ${time(r.at)}`));
  if (r.groups.length > 0) {
    const rows: string[][] = [];
    for (const g of r.groups) {
      for (const p of g.partitions) {
        rows.push([
          g.group,
          String(p.partition),
          p.owner ?? '-',
          dash(p.epoch),
          p.consumer ? dash(p.lag) : 'no consumer',
          dash(p.ackFloor),
          dash(p.checkpoint),
          errorCell(p.lastError),
        ]);
      }
    }
    lines.push('');
    lines.push(table(['GROUP', 'P', 'OWNER', 'EPOCH', 'LAG', 'ACKED', 'CHECKPOINT', 'LAST ERROR'], rows, new Set([1, 3, 4, 5, 6])));
    lines.push('');
    for (const g of r.groups) {
      const members = g.members.length
        ? g.members.map((m) => {
          const bits = [m.pid !== null ? `pid ${m.pid}` : '', m.host ? `on ${m.host}` : '', `owns ${m.owns.length ? m.owns.join(',') : 'none'}`, m.ops ? `ops ${m.ops}` : ''].filter(Boolean);
          return `${m.id} (${bits.join(', ')})`;
        }).join('; ')
        : r.leases ? 'none registered in the lease bucket' : '-';
      lines.push(`${c.bold(g.group)} ${c.dim(`(${g.stream ?? '?'} stream${g.projection ? `, projection ${g.projection}` : ''})`)}: lag ${g.lag}; members: ${members}`);
    }
  }
  for (const v of r.versions) {
    lines.push(`${c.bold(`${v.service} versions`)}: ${v.versions.map((x) => `${x.name}${x.name === v.live ? c.green(' (live)') : ''}${x.state !== 'active' ? c.yellow(` (${x.state})`) : ''} ${c.dim(`schema ${x.schema}`)}`).join('; ')}`);
  }
  for (const w of r.warnings) lines.push(`${c.yellow('!')} ${w}`);
  return `${lines.join('\n')}\n`;
}
