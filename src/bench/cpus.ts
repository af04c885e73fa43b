// Where the bench's peer processes run. Left to the scheduler, one pair's
// two peers land on one CPU or on two, and a stream between them runs at
// one of several speeds depending on that (0.8 to 2.9 GB/s for the same
// channel on this 2-vCPU machine). The bench pins each pair's writer and
// reader to two different CPUs, as two guests' programs run on two vCPUs:
// then the kernel FIFO repeats within a few per cent and the FUSE channels
// within their own spread (PERFORMANCE.md, "The engine against the C
// reference"). The daemons are never pinned: they are what is measured.
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

/** Where pair `i`'s writer and reader run: on two neighbouring allowed CPUs (one, if only one is allowed), the pairs of a many-channel run round robin. */
export function pairCpus(cpus: number[], i: number): { writer: number; reader: number } {
  return { writer: cpus[i % cpus.length], reader: cpus[(i + 1) % cpus.length] };
}
