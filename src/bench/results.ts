// The benchmark's results: one row per measured figure, one value per channel
// (the median of its rounds), and every round's value.
import { median } from './stats';

export interface Row {
  /** e.g. "one-shot 4 KiB" */
  workload: string;
  /** e.g. "median µs" */
  metric: string;
  better: 'lower' | 'higher';
  values: Record<string, number>;
  /** Every round's value, by channel, in round order; `values` holds their medians. */
  rounds?: Record<string, number[]>;
  /** Where a round's value is the median of several timed runs: each round's runs, by channel, in round order. */
  runs?: Record<string, number[][]>;
}

/** Collects a run's rows round by round; rows keep the order of their first value. */
export class RoundBook {
  private readonly rows = new Map<string, Row>();

  /**
   * One round's value of one row and channel (with the timed runs it is the
   * median of, if several); returns the row (its `values` are the medians so far).
   */
  add(workload: string, metric: string, better: Row['better'], channel: string, value: number, runs?: number[]): Row {
    const key = `${workload}\n${metric}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { workload, metric, better, values: {}, rounds: {} }));
    const rounds = (row.rounds![channel] ??= []);
    rounds.push(value);
    row.values[channel] = median(rounds);
    if (runs && runs.length > 1) ((row.runs ??= {})[channel] ??= []).push(runs);
    return row;
  }

  list(): Row[] {
    return [...this.rows.values()];
  }
}

export const BASELINE = 'kernel FIFO';
export const REFERENCE = 'kvmtool shm+irq (published)';

/** The kvmtool inter-VM project's published one-way transfer times, in ns. */
export const REFERENCE_NS: Record<string, number> = {
  '4 KiB': 999_848,
  '2 MiB': 3_999_392,
  '1 GiB': 330_949_688,
};

/** Value relative to the kernel FIFO (or another column of the row): >1 means better than it, for times and rates alike. */
export function speedup(row: Row, channel: string, reference = BASELINE): number | undefined {
  const base = row.values[reference];
  const v = row.values[channel];
  if (base === undefined || v === undefined || !(base > 0) || !(v > 0)) return undefined;
  return row.better === 'lower' ? base / v : v / base;
}

/** Value as a multiple of the kernel FIFO's (or another column's): what the targets are stated in. */
export function ratio(row: Row, channel: string, reference = BASELINE): number | undefined {
  const base = row.values[reference];
  const v = row.values[channel];
  if (base === undefined || v === undefined || !(base > 0)) return undefined;
  return v / base;
}
