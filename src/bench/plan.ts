// What the benchmark measures, in full and in --quick form. Every workload
// runs once per round on every channel; `runs` and sizes are per round.
export interface Plan {
  rounds: number;
  /** One-shot transfers; each round's figure is the median of its `runs`. */
  oneShot: { label: string; size: number; runs: number }[];
  pingCount: number;
  /** Streams of `total` bytes in `size`-byte writes (4 KiB writes move less: they are slow through FUSE). */
  streamWrites: { label: string; size: number; total: number }[];
  scaleChannels: number[];
  /** Bytes through each of the channels at once. */
  scaleTotal: number;
}

export const DEFAULT_ROUNDS = 5;
export const QUICK_ROUNDS = 2;

const KiB = 1024;
const MiB = 1024 * KiB;

export function makePlan(quick: boolean, rounds = quick ? QUICK_ROUNDS : DEFAULT_ROUNDS): Plan {
  return {
    rounds,
    oneShot: [
      { label: '4 KiB', size: 4 * KiB, runs: quick ? 5 : 10 },
      { label: '2 MiB', size: 2 * MiB, runs: quick ? 2 : 4 },
      quick ? { label: '64 MiB', size: 64 * MiB, runs: 1 } : { label: '1 GiB', size: 1024 * MiB, runs: 1 },
    ],
    pingCount: quick ? 2000 : 5000,
    streamWrites: [
      { label: '4 KiB', size: 4 * KiB, total: quick ? 8 * MiB : 64 * MiB },
      { label: '128 KiB', size: 128 * KiB, total: quick ? 32 * MiB : 256 * MiB },
      { label: '1 MiB', size: MiB, total: quick ? 32 * MiB : 256 * MiB },
    ],
    scaleChannels: quick ? [1, 4] : [1, 4, 16],
    scaleTotal: quick ? 16 * MiB : 64 * MiB,
  };
}
