/** A plain text table: a header row and aligned columns (numbers to the right), two spaces apart. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 && !right.has(i) ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `s` cut to `max` characters, on one line. */
export const clip = (s: string, max: number): string => {
  // eslint-disable-next-line no-control-regex
  const one = s.replace(/[\u0000-\u001f]+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
};
