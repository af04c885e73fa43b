// One column against another of the same run, row by row: what issue 19's
// goals are stated in (intervmfs futex against the C reference, the ceiling
// FUSE sets), printed under the table so that nobody divides by hand.
import { Row } from './results';

/** `channel` over `reference` by medians, with "better" meaning the same for times and rates: >1 is ahead. */
export function lead(row: Row, channel: string, reference: string): number | undefined {
  const v = row.values[channel];
  const ref = row.values[reference];
  if (v === undefined || ref === undefined || !(v > 0) || !(ref > 0)) return undefined;
  return row.better === 'higher' ? v / ref : ref / v;
}

/** Lines "workload metric: N.NNx" (the plain ratio of medians, as the goals state it) for every row both columns have. */
export function againstReference(rows: Row[], channel: string, reference: string): string[] {
  const shown = rows.filter((r) => lead(r, channel, reference) !== undefined);
  if (shown.length === 0) return [];
  const width = Math.max(...shown.map((r) => `${r.workload}, ${r.metric}`.length));
  return [
    `${channel} against ${reference}, medians of this run (its value over the reference's; for times lower is better, for rates higher):`,
    ...shown.map((r) => {
      const x = r.values[channel] / r.values[reference];
      return `  ${`${r.workload}, ${r.metric}`.padEnd(width)}  ${x.toFixed(2)}x${lead(r, channel, reference)! < 1 ? '  (behind)' : ''}`;
    }),
  ];
}
