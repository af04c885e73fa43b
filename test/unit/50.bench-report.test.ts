// The benchmark's arithmetic and its outputs: order statistics, ratios to the
// kernel FIFO, the table and the chart.
import { expect } from 'chai';
import { BASELINE, ratio, REFERENCE, Row, speedup } from '../../src/bench/results';
import { median, percentile } from '../../src/bench/stats';
import { labelWidth, renderSvg } from '../../src/bench/svg';
import { renderTable } from '../../src/bench/table';

const rows: Row[] = [
  { workload: 'one-shot 4 KiB', metric: 'median µs', better: 'lower', values: { [BASELINE]: 20, 'intervmfs futex': 80, [REFERENCE]: 999.848 } },
  { workload: 'stream, 1 MiB writes', metric: 'MB/s', better: 'higher', values: { [BASELINE]: 1000, 'intervmfs futex': 500 } },
];

describe('bench report', () => {
  it('takes the median and the 99th percentile of unsorted samples', () => {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(hundred, 99)).to.equal(99);
    expect(percentile(hundred, 100)).to.equal(100);
    expect(Number.isNaN(median([]))).to.equal(true);
  });

  it('states each figure as a multiple of the kernel FIFO, and speed so that higher is better for times and rates alike', () => {
    expect(ratio(rows[0], 'intervmfs futex')).to.equal(4);
    expect(speedup(rows[0], 'intervmfs futex')).to.equal(0.25);
    expect(ratio(rows[1], 'intervmfs futex')).to.equal(0.5);
    expect(speedup(rows[1], 'intervmfs futex')).to.equal(0.5);
    expect(ratio(rows[1], REFERENCE)).to.equal(undefined);
  });

  it('prints a table with the ratio next to every figure but the baseline, and a dash where a channel has none', () => {
    const t = renderTable(rows, [BASELINE, 'intervmfs futex', REFERENCE]).split('\n');
    expect(t[0]).to.match(/^workload\s+metric\s+kernel FIFO\s+intervmfs futex\s+kvmtool shm\+irq \(published\)$/);
    expect(t[2]).to.match(/one-shot 4 KiB\s+median µs\s+20\.0\s+80\.0 \(4\.00x\)\s+1000 \(50\.0x\)$/);
    expect(t[3]).to.match(/stream, 1 MiB writes\s+MB\/s\s+1000\s+500 \(0\.50x\)\s+-$/);
  });

  it('draws one bar per channel and figure, none for the baseline, and escapes text', () => {
    const svg = renderSvg(rows, [BASELINE, 'intervmfs futex', REFERENCE], 'a <title>');
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).to.include('a &lt;title>');
    expect(svg.match(/<title>intervmfs futex: /g)).to.have.length(2);
    expect(svg.match(/<title>kvmtool shm\+irq \(published\): /g)).to.have.length(1);
    expect(svg).not.to.include('<title>kernel FIFO');
  });

  it('makes the label column as wide as the longest label, so that none is cut off at the left edge', () => {
    const labelX = (svg: string) => [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="end">([^<]*)</g)].map((m) => ({ x: Number(m[1]), text: m[2] }));
    const svgWidth = (svg: string) => Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
    const long: Row = { workload: '16 channels at once, 128 KiB writes', metric: 'MB/s total', better: 'higher', values: { [BASELINE]: 1, 'intervmfs futex': 2 } };
    const short = renderSvg(rows, [BASELINE, 'intervmfs futex'], 't');
    const wide = renderSvg([...rows, long], [BASELINE, 'intervmfs futex'], 't');
    for (const svg of [short, wide]) {
      for (const { x, text } of labelX(svg)) expect(x - labelWidth(text), text).to.be.at.least(10);
    }
    // 0.6 em a character at 11 px: the 48 characters of the long label need about 317 px.
    expect(labelWidth('16 channels at once, 128 KiB writes (MB/s total)')).to.equal(317);
    expect(labelX(wide)[0].x).to.be.above(labelX(short)[0].x);
    // The plot keeps its width: the chart grows by what the labels gained.
    expect(svgWidth(wide) - svgWidth(short)).to.equal(labelX(wide)[0].x - labelX(short)[0].x);
  });
});
