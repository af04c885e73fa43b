// Order statistics: percentiles over a run's samples, and what the bench
// says of a figure's rounds (median, lowest, highest, spread).

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** The middle value; of an even count, the mean of the two middle ones (so that two rounds give neither the best nor the worst). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** A figure's rounds: their median, the lowest and the highest, and the spread (max − min) / median. */
export interface Rounds {
  median: number;
  min: number;
  max: number;
  spread: number;
}

/** A figure whose rounds spread by more than this (20 %) is marked in the table. */
export const SPREAD_LIMIT = 0.2;

export function summarize(values: number[]): Rounds {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: max === min ? 0 : (max - min) / Math.abs(m) };
}

export const tooSpread = (r: Rounds) => r.spread > SPREAD_LIMIT;
