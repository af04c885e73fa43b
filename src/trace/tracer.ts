// Where a request's time goes, measured in the real code paths when
// INTERVMFS_TRACE names a folder (off otherwise: one boolean test per
// request). The daemon keeps, per stage, a count, the total and the largest
// time, and rewrites <folder>/trace-<side>.json every second and at unmount,
// so a benchmark can read it before and after a workload and take the
// difference. Stages (docs/PERFORMANCE.md, "Breakdown"):
//   dispatch.read|write  libfuse's thread took the request -> JS handler runs
//   handler.read|write   JS handler runs -> reply handed back to fuse-native
//   copy.consume|produce native copy between the FUSE buffer and the ring
//   wait.read|write      request parked (empty or full ring) -> answered
//   wakeup               notifier reported a ring of our bell
import fs from 'fs';
import path from 'path';
import { TRACE_WRITE_MS } from '../timing';

export interface StageStats {
  count: number;
  totalNs: number;
  maxNs: number;
  bytes: number;
}

export class Tracer {
  readonly enabled: boolean;
  private readonly stages = new Map<string, StageStats>();
  private file?: string;

  constructor(private readonly folder = process.env.INTERVMFS_TRACE) {
    this.enabled = !!folder;
  }

  /** Monotonic nanoseconds, the clock libfuse's thread stamps requests with. */
  now(): number {
    return Number(process.hrtime.bigint());
  }

  add(stage: string, ns: number, bytes = 0): void {
    let s = this.stages.get(stage);
    if (!s) this.stages.set(stage, (s = { count: 0, totalNs: 0, maxNs: 0, bytes: 0 }));
    s.count++;
    s.totalNs += ns;
    s.bytes += bytes;
    if (ns > s.maxNs) s.maxNs = ns;
  }

  snapshot(): Record<string, StageStats> {
    return Object.fromEntries([...this.stages].map(([k, v]) => [k, { ...v }]));
  }

  /**
   * Starts writing the snapshot for this side's daemon; returns a stop
   * function. `engine` reads the native engine's own counters (reads,
   * writes, sleeps, copy time), written next to the stages: read and write
   * never reach JavaScript, so they are counted there.
   */
  startWriting(side: string, engine: () => unknown = () => null): () => void {
    if (!this.folder) return () => undefined;
    fs.mkdirSync(this.folder, { recursive: true });
    this.file = path.join(this.folder, `trace-${side}.json`);
    const write = () => {
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ pid: process.pid, atNs: this.now(), stages: this.snapshot(), engine: engine() }));
      fs.renameSync(tmp, this.file!); // readers never see half a file
    };
    const timer = setInterval(write, TRACE_WRITE_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      write();
    };
  }
}

/** The daemon's tracer (one per process). */
export const tracer = new Tracer();
