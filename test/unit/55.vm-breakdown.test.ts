// The guest breakdown's arithmetic (src/trace/vm-breakdown.ts): from what each
// guest recorded (its peer program's times, its trace before and after, its
// doorbell interrupts) to the layers of a round trip and of a transfer.
import { expect } from 'chai';
import { describeNotifier, GuestSample, parseGuestSamples } from '../../src/trace/vm-breakdown';

const trace = (reads: number, writes: number, waits: number, waitNs: number, copyNs: number) => ({
  stages: {},
  engine: { stats: { reads, writes, readBytes: 0, writeBytes: 0, waits, waitNs, copyNs } },
});

const samples: GuestSample[] = [
  // 1000 round trips of 400 µs; a's write() 50 µs, b's 30 µs: the writes 80 µs, the rest 320 µs, 160 µs a hop.
  { notify: 'poll', side: 'a', workload: 'ping-pong 64 B', peer: { count: 1000, mean_ns: 400_000, p50: 390_000, p99: 800_000, p999: 900_000, write_ns: 50_000 }, irqs: 0, before: trace(10, 10, 5, 1000, 100), after: trace(1010, 1010, 1005, 300_001_000, 1_000_100) },
  { notify: 'poll', side: 'b', workload: 'ping-pong 64 B', peer: { write_ns: 30_000 }, irqs: 0, before: {}, after: trace(1000, 1000, 500, 100_000_000, 2_000_000) },
  { notify: 'doorbell', side: 'a', workload: 'ping-pong 64 B', peer: { count: 10, mean_ns: 1_000_000, p50: 1, p99: 1, p999: 1, write_ns: 600_000 }, irqs: 10, before: {}, after: trace(10, 10, 10, 0, 0) },
  { notify: 'doorbell', side: 'b', workload: 'ping-pong 64 B', peer: { write_ns: 600_000 }, irqs: 20, before: {}, after: trace(10, 10, 10, 0, 0) },
  { notify: 'poll', side: 'a', workload: 'one-shot 2 MiB', peer: { count: 10, ns: 100_000_000, write_ns: 60_000_000 }, irqs: 0, before: {}, after: trace(0, 160, 40, 0, 20_000_000) },
  { notify: 'poll', side: 'b', workload: 'one-shot 2 MiB', peer: { count: 10, read_ns: 90_000_000 }, irqs: 0, before: {}, after: trace(200, 0, 60, 0, 10_000_000) },
];

describe('breakdown between two guests', () => {
  it('splits a round trip into the two writes (whole FUSE requests), their copies, and the rest of each hop', () => {
    const text = describeNotifier('poll', samples).join('\n');
    expect(text).to.match(/1000 round trips of 64 B, a -> b -> a: mean 400\.0 µs \(p50 390\.0, p99 800\.0, p99\.9 900\.0\)/);
    expect(text).to.include('write(64 B) 50.0 µs in guest a, 30.0 µs in guest b; 80.0 µs, 20 %');
    expect(text).to.include("the engine's ring copies 3.0 µs (a 1.0, b 2.0)");
    expect(text).to.include("each read's answer back through FUSE: 320.0 µs, 80 % (160.0 µs a hop)");
    expect(text).to.include('sleeps per round trip: a 1.00 (mean 300.0 µs), b 0.50 (mean 200.0 µs)');
  });

  it('counts the doorbell interrupts per round trip, and never makes a hop negative', () => {
    const text = describeNotifier('doorbell', samples).join('\n');
    expect(text).to.include('doorbell interrupts per round trip: a 1.00, b 2.00');
    expect(text).to.include('back through FUSE: 0.0 µs, 0 % (0.0 µs a hop)');
  });

  it('gives a transfer its time inside write() and read(), the copies per MiB and the requests and sleeps per transfer', () => {
    const text = describeNotifier('poll', samples).join('\n');
    expect(text).to.include('10 transfers of 2 MiB a -> b in 1 MiB writes, each acknowledged: mean 10000.0 µs');
    expect(text).to.include("inside write() on a: 6000.0 µs a transfer; inside read() on b, from before a's first write: 9000.0 µs");
    expect(text).to.include('into the ring 1000.0 µs a MiB on a, out of it 500.0 µs a MiB on b');
    expect(text).to.include('requests: 16.0 writes a transfer on a, 20.0 reads on b; sleeps: a 4.0, b 6.0 a transfer');
  });

  it('says so when a notifier has no samples from both guests, and names a line that is not JSON', () => {
    expect(describeNotifier('futex', samples)).to.deep.equal(['notify futex', '  no samples from both guests']);
    expect(parseGuestSamples('{"notify":"poll"}\n\n')).to.have.length(1);
    expect(() => parseGuestSamples('{"a":1}\nnot json')).to.throw(/line 2 is not JSON: not json/);
  });
});
