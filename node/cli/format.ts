/** Human-readable output: aligned tables and key/value lists. */

/** A cell's text; long values are cut except in the last column, which has room to run on. */
function cell(v: unknown, last: boolean): string {
  if (v === undefined) return '';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return !last && text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** A table with the given columns, one row per object. */
export function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c, i) => cell(r[c], i === columns.length - 1)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Columns for records: _id first, then every field in order of appearance. */
export function recordColumns(rows: readonly Record<string, unknown>[]): string[] {
  const columns = new Set<string>(['_id']);
  for (const r of rows) for (const k of Object.keys(r)) columns.add(k);
  return [...columns];
}

export function keyValues(entries: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(entries).map((k) => k.length));
  return Object.entries(entries)
    .map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}
