// One column against another of the same run, row by row: what issue 19's
// goals are stated in (intervmfs futex against the C reference, the ceiling
// FUSE sets), printed under the table so that nobody divides by hand. With
// rounds, each round's own ratio too (the two ran minutes apart at most, in
// the same round): a gap in every round is a gap, one in two of five is the
// machine.
import { ratio, Row, speedup } from './results';

/** Each round's value over the reference's of the same round, when both have the same rounds. */
function roundRatios(row: Row, channel: string, reference: string): number[] {
  const a = row.rounds?.[channel] ?? [];
  const b = row.rounds?.[reference] ?? [];
  if (a.length < 2 || a.length !== b.length) return [];
  return a.map((v, i) => v / b[i]).filter((x) => Number.isFinite(x) && x > 0);
}

/**
 * Lines "workload, metric  N.NNx [lowest–highest round's ratio], behind in K of R rounds"
 * (the plain ratio of medians, as the goals state it) for every row both columns have.
 */
export function againstReference(rows: Row[], channel: string, reference: string): string[] {
  const shown = rows.filter((r) => speedup(r, channel, reference) !== undefined).map((r) => ({ r, per: roundRatios(r, channel, reference) }));
  if (shown.length === 0) return [];
  const label = (r: Row) => `${r.workload}, ${r.metric}`;
  const width = Math.max(...shown.map(({ r }) => label(r).length));
  const lines = shown.map(({ r, per }) => {
    const x = ratio(r, channel, reference)!;
    const behind = (y: number) => (r.better === 'higher' ? y < 1 : y > 1);
    const range = per.length > 0 ? ` [${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)}], behind in ${per.filter(behind).length} of ${per.length} rounds` : behind(x) ? '  (behind)' : '';
    return `  ${label(r).padEnd(width)}  ${x.toFixed(2)}x${range}`;
  });
  return [
    `${channel} against ${reference}: its median over the reference's (for times lower is better, for rates higher)` +
      (shown.some(({ per }) => per.length > 0) ? ", then [the lowest–the highest of the rounds' own ratios]:" : ':'),
    ...lines,
  ];
}
