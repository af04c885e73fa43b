// Where the bench's peer processes run. Left to the scheduler, one pair's
// two peers land on one CPU or on two, and a stream between them runs at
// one of several speeds depending on that and on how long the vCPUs have
// been busy (0.8 to 2.9 GB/s for the same channel on this 2-vCPU machine).
// Pinned to one CPU, a pair's run repeats within a few per cent; pinned to
// two, the kernel FIFO does but the FUSE channels do not (PERFORMANCE.md,
// "The engine against the C reference"). The daemons are never pinned:
// they are what is measured.
import fs from 'fs';

/** "0-3,6" (a kernel CPU list) -> [0, 1, 2, 3, 6]; undefined for anything else. */
export function parseCpuList(list: string): number[] | undefined {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const [first, last] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (last < first) return undefined;
    for (let c = first; c <= last; c++) cpus.push(c);
  }
  return cpus;
}

/** The CPUs this process may run on (and so its children), from /proc/self/status. */
export function allowedCpus(status = fs.readFileSync('/proc/self/status', 'utf8')): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  const cpus = list === undefined ? undefined : parseCpuList(list);
  if (!cpus || cpus.length === 0) throw new Error(`cannot tell which CPUs this process may use (Cpus_allowed_list: ${list ?? 'missing'})`);
  return cpus;
}

/** The CPU both peers of pair `i` run on: pair 0 on the first allowed CPU, the pairs of a many-channel run spread round robin. */
export function pairCpu(cpus: number[], i: number): number {
  return cpus[i % cpus.length];
}
