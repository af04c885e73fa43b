// The guest benchmark's samples become rows of medians per channel, with
// the kernel FIFO inside the guest as the baseline column, and every round
// kept for the range the table prints.
import { expect } from 'chai';
import { renderTable } from '../../src/bench/table';
import { notifierRounds, parseSamples, vmChannels, vmRows } from '../../src/bench/vm-rows';

const LINES = [
  { round: 1, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 3000000 },
  { round: 1, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 1000000 },
  { round: 2, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 2000000 },
  { round: 1, channel: 'kernel FIFO', workload: 'one-shot 4096', ns: 500000 },
  { round: 1, channel: 'intervmfs doorbell', workload: 'one-shot 67108864', ns: 1500000000 },
  { round: 1, channel: 'intervmfs doorbell', workload: 'ping-pong 64 B', p50: 4000000, p99: 9000000 },
  { round: 1, channel: 'intervmfs doorbell', workload: 'stream 128 KiB writes', ns: 1000000000, bytes: 33554432 },
  { round: 1, channel: 'intervmfs doorbell', workload: 'idle reader', cpu_ms: 30, seconds: 3 },
]
  .map((l) => JSON.stringify(l))
  .join('\n');

describe('bench --vm rows', () => {
  const samples = parseSamples(`${LINES}\n\n`);

  it('takes the median of every round of a channel, in the unit of the size', () => {
    const rows = vmRows(samples);
    const small = rows.find((r) => r.workload === 'one-shot 4 KiB')!;
    expect(small.metric).to.equal('median µs');
    expect(small.values).to.deep.equal({ 'intervmfs poll': 2000, 'kernel FIFO': 500 });
    const big = rows.find((r) => r.workload === 'one-shot 64 MiB')!;
    expect(big.metric).to.equal('median ms');
    expect(big.values['intervmfs doorbell']).to.equal(1500);
  });

  it('reports round trips in µs, streaming in MB/s and waiting CPU per second', () => {
    const rows = vmRows(samples);
    expect(rows.find((r) => r.metric === 'p50 µs')!.values['intervmfs doorbell']).to.equal(4000);
    expect(rows.find((r) => r.metric === 'MB/s')!.values['intervmfs doorbell']).to.be.closeTo(33.55, 0.01);
    expect(rows.find((r) => r.workload === 'idle reader')!.values['intervmfs doorbell']).to.equal(10);
  });

  it('puts the kernel FIFO first and the intervmfs notifiers after it', () => {
    expect(vmChannels(samples)).to.deep.equal(['kernel FIFO', 'intervmfs doorbell', 'intervmfs poll']);
  });

  it('keeps one value per round (the median of its samples), and the table prints their range', () => {
    const rounds = parseSamples(
      [
        { round: 1, channel: 'kernel FIFO', workload: 'stream 128 KiB writes', ns: 1e9, bytes: 100e6 },
        { round: 2, channel: 'kernel FIFO', workload: 'stream 128 KiB writes', ns: 1e9, bytes: 150e6 },
        { round: 1, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 3e6 },
        { round: 1, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 1e6 },
        { round: 3, channel: 'intervmfs poll', workload: 'one-shot 4096', ns: 5e6 },
        { round: 3, channel: 'intervmfs poll', workload: 'stream 128 KiB writes', ns: 1e9, bytes: 80e6 },
        { round: 1, channel: 'intervmfs poll', workload: 'stream 128 KiB writes', ns: 1e9, bytes: 90e6 },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    const rows = vmRows(rounds);
    expect(rows.find((r) => r.workload === 'one-shot 4 KiB')!.rounds).to.deep.equal({ 'intervmfs poll': [2000, 5000] });
    const stream = rows.find((r) => r.metric === 'MB/s')!;
    expect(stream.rounds).to.deep.equal({ 'kernel FIFO': [100, 150], 'intervmfs poll': [90, 80] });
    const line = renderTable([stream], vmChannels(rounds)).split('\n')[2];
    expect(line).to.match(/MB\/s\s+125 \[100–150\]\*\s+85\.0 \[80\.0–90\.0\] \(0\.68x\)$/);
  });

  it('runs the notifiers alternately, as many rounds of each as asked', () => {
    expect(notifierRounds(1)).to.equal('poll,doorbell');
    expect(notifierRounds(3)).to.equal('poll,doorbell,poll,doorbell,poll,doorbell');
  });
});
