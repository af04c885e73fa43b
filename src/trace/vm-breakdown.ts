// `npm run breakdown -- --vm`: where the time of a 64-byte round trip and of
// a 2 MiB transfer goes between two QEMU guests, for each notifier (poll,
// doorbell). Boots the test guests with test/vm/guest-breakdown.sh, which
// traces each guest's mount and times the peer program's write() calls, then
// splits each figure into its layers: the two writes of a round trip (each a
// whole FUSE request inside its guest, with the engine's copy in it) and the
// rest, each hop's notification from one guest to the other (the poll
// notifier seeing its bell, or the doorbell's interrupt through QEMU, VFIO
// and an eventfd) with each read's answer going back through FUSE; with the
// engine's sleeps and the interrupts each guest took.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { requireCheckout, runGuests } from '../bench/guests';
import { parseJsonLines } from '../bench/vm-rows';
import { UserError } from '../errors';
import { diff, Snapshot, snapshotOf } from './snapshot';

/** One line of breakdown.jsonl: one guest's view of one workload with one notifier. */
export interface GuestSample {
  notify: string;
  side: 'a' | 'b';
  workload: string;
  peer: Record<string, number>;
  irqs: number;
  before: object;
  after: object;
}

export const parseGuestSamples = (text: string): GuestSample[] => parseJsonLines<GuestSample>(text, 'breakdown.jsonl');

const us = (ns: number) => (ns / 1000).toFixed(1);
const cost = (s: GuestSample): Snapshot => diff(snapshotOf(s.after as never), snapshotOf(s.before as never));

/** The layers of one notifier's round trip and transfer, as lines of text. */
export function describeNotifier(notify: string, samples: GuestSample[]): string[] {
  const find = (side: string, workload: string) => samples.find((s) => s.notify === notify && s.side === side && s.workload === workload);
  const lines: string[] = [`notify ${notify}`];
  const [pa, pb] = [find('a', 'ping-pong 64 B'), find('b', 'ping-pong 64 B')];
  if (pa && pb) {
    const n = pa.peer.count;
    const [ea, eb] = [cost(pa).engine, cost(pb).engine];
    const rtt = pa.peer.mean_ns;
    const writes = pa.peer.write_ns + pb.peer.write_ns;
    const rest = Math.max(0, rtt - writes);
    const pct = (ns: number) => `${((100 * ns) / rtt).toFixed(0)} %`;
    lines.push(
      `  ${n} round trips of 64 B, a -> b -> a: mean ${us(rtt)} µs (p50 ${us(pa.peer.p50)}, p99 ${us(pa.peer.p99)}, p99.9 ${us(pa.peer.p999)})`,
      `    the two writes, each a whole FUSE request that does not wait: write(64 B) ${us(pa.peer.write_ns)} µs in guest a, ${us(pb.peer.write_ns)} µs in guest b; ${us(writes)} µs, ${pct(writes)}`,
      `      of which the engine's ring copies ${us((ea.copyNs + eb.copyNs) / n)} µs (a ${us(ea.copyNs / n)}, b ${us(eb.copyNs / n)})`,
      `    the rest, each hop's notification and each read's answer back through FUSE: ${us(rest)} µs, ${pct(rest)} (${us(rest / 2)} µs a hop)`,
      `    sleeps per round trip: a ${(ea.waits / n).toFixed(2)} (mean ${us(ea.waits ? ea.waitNs / ea.waits : 0)} µs), b ${(eb.waits / n).toFixed(2)} (mean ${us(eb.waits ? eb.waitNs / eb.waits : 0)} µs)`,
      `    doorbell interrupts per round trip: a ${(pa.irqs / n).toFixed(2)}, b ${(pb.irqs / n).toFixed(2)}`,
    );
  }
  const [ba, bb] = [find('a', 'one-shot 2 MiB'), find('b', 'one-shot 2 MiB')];
  if (ba && bb) {
    const n = ba.peer.count;
    const [ea, eb] = [cost(ba).engine, cost(bb).engine];
    const mib = 2 * n;
    lines.push(
      `  ${n} transfers of 2 MiB a -> b in 1 MiB writes, each acknowledged: mean ${us(ba.peer.ns / n)} µs`,
      `    inside write() on a: ${us(ba.peer.write_ns / n)} µs a transfer; inside read() on b, from before a's first write: ${us(bb.peer.read_ns / n)} µs`,
      `    the engine's ring copies: into the ring ${us(ea.copyNs / mib)} µs a MiB on a, out of it ${us(eb.copyNs / mib)} µs a MiB on b`,
      `    requests: ${(ea.writes / n).toFixed(1)} writes a transfer on a, ${(eb.reads / n).toFixed(1)} reads on b; sleeps: a ${(ea.waits / n).toFixed(1)}, b ${(eb.waits / n).toFixed(1)} a transfer`,
      `    doorbell interrupts per transfer: a ${(ba.irqs / n).toFixed(1)}, b ${(bb.irqs / n).toFixed(1)}`,
    );
  }
  if (lines.length === 1) lines.push('  no samples from both guests');
  return lines;
}

export async function runVmBreakdown(): Promise<void> {
  requireCheckout('breakdown --vm');
  const figures = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-vm-breakdown-'));
  const notifiers = ['poll', 'doorbell'];
  try {
    const code = await runGuests('guest-breakdown.sh', notifiers.join(','), figures);
    const file = path.join(figures, 'breakdown.jsonl');
    if (code !== 0 || !fs.existsSync(file)) throw new UserError(`the guests did not finish the breakdown (test/vm/run.sh exit ${code}); see its output above`, 1);
    const samples = parseGuestSamples(fs.readFileSync(file, 'utf8'));
    console.log(`intervmfs breakdown between two guests, ${new Date().toISOString().slice(0, 16)}Z (one mount in each guest, traced; guest a sends)`);
    for (const n of notifiers) console.log(describeNotifier(n, samples).join('\n'));
  } finally {
    fs.rmSync(figures, { recursive: true, force: true });
  }
}
