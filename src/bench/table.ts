// The results as a plain-text table, each figure with its ratio to the kernel FIFO,
// and the notes a reader needs to take a column for what it is.
import { BASELINE, ratio, Row } from './results';

function fmt(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The table; `notes` (by channel) are printed under it, one line each, for the channels shown. */
export function renderTable(rows: Row[], channels: string[], notes: Record<string, string> = {}): string {
  const header = ['workload', 'metric', ...channels];
  const body = rows.map((r) => [
    r.workload,
    r.metric,
    ...channels.map((c) => {
      const v = r.values[c];
      if (v === undefined) return '-';
      const x = ratio(r, c);
      return c === BASELINE || x === undefined ? fmt(v) : `${fmt(v)} (${fmt(x)}x)`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const noted = channels.filter((c) => notes[c]).map((c) => `  ${c}: ${notes[c]}`);
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ...(noted.length > 0 ? ['', 'notes:', ...noted] : [])].join('\n');
}
