// Turns the samples the guests wrote (test/vm/guest-bench.sh, one JSON line
// each) into the benchmark's rows: each figure the median of a channel's
// rounds, with every round's value kept (as the host bench's rows).
import { BASELINE, RoundBook, Row } from './results';
import { median } from './stats';

export interface VmSample {
  round: number;
  channel: string;
  workload: string;
  ns?: number;
  bytes?: number;
  p50?: number;
  p99?: number;
  cpu_ms?: number;
  seconds?: number;
}

const SIZE_LABELS: Record<string, string> = { '4096': '4 KiB', '2097152': '2 MiB', '67108864': '64 MiB', '1073741824': '1 GiB' };

/** One JSON value per non-empty line of what the guests wrote to `file`; a line that is not JSON is named. */
export function parseJsonLines<T>(text: string, file: string): T[] {
  return text
    .split('\n')
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim() !== '')
    .map(({ l, i }) => {
      try {
        return JSON.parse(l) as T;
      } catch {
        throw new Error(`${file} line ${i + 1} is not JSON: ${l.slice(0, 120)}`);
      }
    });
}

export const parseSamples = (jsonl: string): VmSample[] => parseJsonLines<VmSample>(jsonl, 'vm-bench.jsonl');

/** The channels in the order of the table: the baseline first. */
export function vmChannels(samples: VmSample[]): string[] {
  const names = [...new Set(samples.map((s) => s.channel))];
  return [BASELINE, ...names.filter((n) => n !== BASELINE).sort()];
}

/** `n` rounds of each notifier, alternating (test/vm/run.sh's VM_NOTIFIERS). */
export function notifierRounds(n: number): string {
  return Array.from({ length: n }, () => 'poll,doorbell').join(',');
}

/**
 * A row of `workload`'s samples: a channel's value in a round is the median of
 * its samples in that round, and its figure the median of its rounds.
 */
function rowOf(samples: VmSample[], workload: string, metric: string, better: Row['better'], value: (s: VmSample) => number | undefined): Row | undefined {
  const perRound = new Map<string, { channel: string; values: number[] }>();
  for (const s of [...samples].sort((a, b) => a.round - b.round)) {
    if (s.workload !== workload) continue;
    const v = value(s);
    if (v === undefined || !Number.isFinite(v)) continue;
    const key = `${s.channel}\n${s.round}`;
    if (!perRound.has(key)) perRound.set(key, { channel: s.channel, values: [] });
    perRound.get(key)!.values.push(v);
  }
  const book = new RoundBook();
  for (const { channel, values } of perRound.values()) book.add(workload, metric, better, channel, median(values));
  return book.list()[0];
}

export function vmRows(samples: VmSample[]): Row[] {
  const rows: (Row | undefined)[] = [];
  const oneShots = [...new Set(samples.filter((s) => s.workload.startsWith('one-shot ')).map((s) => s.workload))].sort(
    (a, b) => Number(a.split(' ')[1]) - Number(b.split(' ')[1]),
  );
  for (const w of oneShots) {
    const size = Number(w.split(' ')[1]);
    const label = `one-shot ${SIZE_LABELS[String(size)] ?? `${size} B`}`;
    const unit = size <= 4096 ? 1e3 : 1e6;
    const row = rowOf(samples, w, unit === 1e3 ? 'median µs' : 'median ms', 'lower', (s) => (s.ns === undefined ? undefined : s.ns / unit));
    if (row) rows.push({ ...row, workload: label });
  }
  rows.push(rowOf(samples, 'ping-pong 64 B', 'p50 µs', 'lower', (s) => (s.p50 === undefined ? undefined : s.p50 / 1e3)));
  rows.push(rowOf(samples, 'ping-pong 64 B', 'p99 µs', 'lower', (s) => (s.p99 === undefined ? undefined : s.p99 / 1e3)));
  rows.push(rowOf(samples, 'stream 128 KiB writes', 'MB/s', 'higher', (s) => (s.ns && s.bytes ? s.bytes / (s.ns / 1e9) / 1e6 : undefined)));
  rows.push(
    rowOf(samples, 'idle reader', 'daemon CPU ms/s', 'lower', (s) => (s.cpu_ms === undefined || !s.seconds ? undefined : s.cpu_ms / s.seconds)),
  );
  return rows.filter((r): r is Row => r !== undefined);
}
