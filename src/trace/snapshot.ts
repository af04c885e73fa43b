// A traced daemon's counters as its trace file holds them (tracer.ts writes
// <folder>/trace-<side>.json every second), and the difference of two
// readings: what one workload cost. Used by the breakdown on the host and
// between two guests.
import fs from 'fs';
import path from 'path';
import type { EngineStats } from '../native';
import type { StageStats } from './tracer';

export type Stages = Record<string, StageStats>;
export interface Snapshot {
  stages: Stages;
  engine: EngineStats;
}
export const NO_ENGINE: EngineStats = { reads: 0, writes: 0, readBytes: 0, writeBytes: 0, waits: 0, waitNs: 0, copyNs: 0 };

/** A trace file's content (parsed), or nothing yet: empty counters. */
export function snapshotOf(t: { stages?: Stages; engine?: { stats?: EngineStats } | null } | undefined): Snapshot {
  return { stages: t?.stages ?? {}, engine: t?.engine?.stats ?? NO_ENGINE };
}

export function readTrace(dir: string, side: string): Snapshot {
  try {
    return snapshotOf(JSON.parse(fs.readFileSync(path.join(dir, `trace-${side}.json`), 'utf8')));
  } catch {
    return snapshotOf(undefined);
  }
}

export function diff(after: Snapshot, before: Snapshot): Snapshot {
  const stages: Stages = {};
  for (const [k, v] of Object.entries(after.stages)) {
    const b = before.stages[k] ?? { count: 0, totalNs: 0, maxNs: 0, bytes: 0 };
    if (v.count > b.count) stages[k] = { count: v.count - b.count, totalNs: v.totalNs - b.totalNs, maxNs: v.maxNs, bytes: v.bytes - b.bytes };
  }
  const engine = Object.fromEntries(
    Object.keys(NO_ENGINE).map((k) => [k, after.engine[k as keyof EngineStats] - before.engine[k as keyof EngineStats]]),
  ) as unknown as EngineStats;
  return { stages, engine };
}
