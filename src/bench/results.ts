// The benchmark's results: one row per measured figure, one value per channel.

export interface Row {
  /** e.g. "one-shot 4 KiB" */
  workload: string;
  /** e.g. "median µs" */
  metric: string;
  better: 'lower' | 'higher';
  values: Record<string, number>;
}

export const BASELINE = 'kernel FIFO';
export const REFERENCE = 'kvmtool shm+irq (published)';

/** The kvmtool inter-VM project's published one-way transfer times, in ns. */
export const REFERENCE_NS: Record<string, number> = {
  '4 KiB': 999_848,
  '2 MiB': 3_999_392,
  '1 GiB': 330_949_688,
};

/** Value relative to the kernel FIFO: >1 means better than the FIFO. */
export function speedup(row: Row, channel: string): number | undefined {
  const base = row.values[BASELINE];
  const v = row.values[channel];
  if (base === undefined || v === undefined || !(base > 0) || !(v > 0)) return undefined;
  return row.better === 'lower' ? base / v : v / base;
}

/** Value as a multiple of the kernel FIFO's (what the targets are stated in). */
export function ratio(row: Row, channel: string): number | undefined {
  const base = row.values[BASELINE];
  const v = row.values[channel];
  if (base === undefined || v === undefined || !(base > 0)) return undefined;
  return v / base;
}
