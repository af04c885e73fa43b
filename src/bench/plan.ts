// What the benchmark measures, in full and in --quick form.
export interface Plan {
  oneShot: { label: string; size: number; runs: number }[];
  pingCount: number;
  streamTotal: number;
  streamWrites: { label: string; size: number }[];
  streamRuns: number;
  scaleChannels: number[];
  scaleTotal: number;
  scaleRuns: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export function makePlan(quick: boolean): Plan {
  return {
    oneShot: [
      { label: '4 KiB', size: 4 * KiB, runs: quick ? 10 : 30 },
      { label: '2 MiB', size: 2 * MiB, runs: quick ? 3 : 10 },
      quick ? { label: '64 MiB', size: 64 * MiB, runs: 1 } : { label: '1 GiB', size: 1024 * MiB, runs: 3 },
    ],
    pingCount: quick ? 2000 : 10000,
    streamTotal: quick ? 32 * MiB : 256 * MiB,
    streamWrites: [
      { label: '4 KiB', size: 4 * KiB },
      { label: '128 KiB', size: 128 * KiB },
      { label: '1 MiB', size: MiB },
    ],
    streamRuns: quick ? 1 : 3,
    scaleChannels: quick ? [1, 4] : [1, 4, 16],
    scaleTotal: quick ? 16 * MiB : 128 * MiB,
    scaleRuns: quick ? 1 : 2,
  };
}
