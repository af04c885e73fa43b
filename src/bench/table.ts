// The results as a plain-text table, each figure with its rounds' range, its
// ratio to the kernel FIFO, and the notes a reader needs to take a column for
// what it is.
import { BASELINE, ratio, Row } from './results';
import { SPREAD_LIMIT, summarize, tooSpread } from './stats';

/** After a figure whose rounds spread by more than SPREAD_LIMIT. */
export const SPREAD_MARK = '*';

function fmt(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The figure (the median of its rounds), then [lowest–highest round] and the mark when there are rounds to compare. */
export function figure(row: Row, channel: string): string {
  const v = row.values[channel];
  if (v === undefined) return '-';
  const rounds = row.rounds?.[channel] ?? [];
  if (rounds.length < 2) return fmt(v);
  const s = summarize(rounds);
  return `${fmt(v)} [${fmt(s.min)}–${fmt(s.max)}]${tooSpread(s) ? SPREAD_MARK : ''}`;
}

/** The table; `notes` (by channel) are printed under it, one line each, for the channels shown. */
export function renderTable(rows: Row[], channels: string[], notes: Record<string, string> = {}): string {
  const header = ['workload', 'metric', ...channels];
  const body = rows.map((r) => [
    r.workload,
    r.metric,
    ...channels.map((c) => {
      const x = ratio(r, c);
      return c === BASELINE || x === undefined ? figure(r, c) : `${figure(r, c)} (${fmt(x)}x)`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const ranged = rows.flatMap((r) => channels.filter((c) => r.values[c] !== undefined && (r.rounds?.[c]?.length ?? 0) >= 2).map((c) => summarize(r.rounds![c])));
  const spread = ranged.filter(tooSpread).length;
  const legend =
    ranged.length === 0
      ? []
      : [
          '  each figure: the median of its rounds, then [the lowest–the highest round]; (Nx): that median over the kernel FIFO median of the same run',
          `  ${SPREAD_MARK} after a figure: its rounds spread by more than ${SPREAD_LIMIT * 100} % of its median ((max − min) / median), ${spread} of ${ranged.length} figures; a difference of that size in its row may be noise`,
        ];
  const noted = [...legend, ...channels.filter((c) => notes[c]).map((c) => `  ${c}: ${notes[c]}`)];
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ...(noted.length > 0 ? ['', 'notes:', ...noted] : [])].join('\n');
}
