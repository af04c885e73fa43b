// The benchmark's arithmetic and its outputs: order statistics, ratios to the
// kernel FIFO, the rounds behind every figure, the table and the chart.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { againstReference } from '../../src/bench/against';
import { kernelFifo } from '../../src/bench/channels';
import { allowedCpus, pairCpu, parseCpuList } from '../../src/bench/cpus';
import { PEER, peerCommand, transfer } from '../../src/bench/peer';
import { roundOrders } from '../../src/bench/order';
import { makePlan } from '../../src/bench/plan';
import { BASELINE, ratio, REFERENCE, RoundBook, Row, speedup } from '../../src/bench/results';
import { median, percentile, summarize } from '../../src/bench/stats';
import { labelWidth, renderSvg } from '../../src/bench/svg';
import { renderTable } from '../../src/bench/table';
import { selectColumns } from '../../src/bench/run-bench';

const rows: Row[] = [
  { workload: 'one-shot 4 KiB', metric: 'median µs', better: 'lower', values: { [BASELINE]: 20, 'intervmfs futex': 80, [REFERENCE]: 999.848 } },
  { workload: 'stream, 1 MiB writes', metric: 'MB/s', better: 'higher', values: { [BASELINE]: 1000, 'intervmfs futex': 500 } },
];

describe('bench report', () => {
  it('takes the median and the 99th percentile of unsorted samples', () => {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([7])).to.equal(7);
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

  describe('rounds', () => {
    const FUTEX = 'intervmfs futex';
    /** A book with these rounds of one row, in round order. */
    const book = (rounds: Record<string, number[]>, workload = 'stream, 1 MiB writes') => {
      const b = new RoundBook();
      const n = Math.max(...Object.values(rounds).map((v) => v.length));
      for (let r = 0; r < n; r++) for (const [c, vs] of Object.entries(rounds)) if (r < vs.length) b.add(workload, 'MB/s', 'higher', c, vs[r]);
      return b;
    };
    const cells = (rows: Row[], channels: string[]) => renderTable(rows, channels).split('\n')[2].split(/ {2,}/).slice(2);

    it('prints each figure as the median of its rounds with the lowest and highest round, and the ratio of the medians', () => {
      const rows = book({ [BASELINE]: [1000, 1010, 990, 1005, 995], [FUTEX]: [1310, 1295, 1988, 1320, 1300] }).list();
      expect(rows[0].values).to.deep.equal({ [BASELINE]: 1000, [FUTEX]: 1310 });
      expect(cells(rows, [BASELINE, FUTEX])).to.deep.equal(['1000 [990–1010]', '1310 [1295–1988]* (1.31x)']);
    });

    it('marks a figure whose rounds spread by more than 20 % of the median, not one at 19 % or 20 %, and says so under the table', () => {
      const rows = book({ [BASELINE]: [100, 119, 100], [FUTEX]: [100, 121, 100], 'intervmfs poll': [100, 100, 120] }).list();
      expect(summarize(rows[0].rounds![FUTEX]).spread).to.be.closeTo(0.21, 1e-12);
      expect(cells(rows, [BASELINE, FUTEX, 'intervmfs poll'])).to.deep.equal(['100 [100–119]', '100 [100–121]* (1.00x)', '100 [100–120] (1.00x)']);
      const notes = renderTable(rows, [BASELINE, FUTEX, 'intervmfs poll']).split('\n').slice(4);
      expect(notes[0]).to.equal('notes:');
      expect(notes.join('\n')).to.match(/^ {2}\* after a figure: its rounds spread by more than 20 % of its median \(\(max − min\) \/ median\), 1 of 3 figures;/m);
    });

    it('keeps every round of every row and channel in the JSON, in round order, rows in the order first measured', () => {
      const b = book({ [BASELINE]: [3, 1, 2, 5, 4], [FUTEX]: [10, 20, 30, 40, 50] }, 'one-shot 4 KiB');
      b.add('ping-pong 64 B x5000', 'p50 µs', 'lower', FUTEX, 70);
      const json = JSON.parse(JSON.stringify({ rows: b.list() })) as { rows: Row[] };
      expect(json.rows.map((r) => r.workload)).to.deep.equal(['one-shot 4 KiB', 'ping-pong 64 B x5000']);
      expect(json.rows[0].rounds).to.deep.equal({ [BASELINE]: [3, 1, 2, 5, 4], [FUTEX]: [10, 20, 30, 40, 50] });
      expect(json.rows[0].values).to.deep.equal({ [BASELINE]: 3, [FUTEX]: 30 });
      expect(json.rows[1].rounds).to.deep.equal({ [FUTEX]: [70] });
    });

    it('keeps the timed runs a round is the median of, where it has several', () => {
      const b = new RoundBook();
      b.add('one-shot 4 KiB', 'median µs', 'lower', FUTEX, 20, [30, 10, 20]);
      b.add('one-shot 4 KiB', 'median µs', 'lower', FUTEX, 25, [25, 26, 24]);
      b.add('one-shot 1 GiB', 'median ms', 'lower', FUTEX, 500, [500]);
      const [small, large] = b.list();
      expect(small.runs).to.deep.equal({ [FUTEX]: [[30, 10, 20], [25, 26, 24]] });
      expect(small.rounds).to.deep.equal({ [FUTEX]: [20, 25] });
      expect(large.runs).to.equal(undefined);
    });

    it('prints a figure of one round without a range, and no range note', () => {
      const rows = book({ [BASELINE]: [1000], [FUTEX]: [500] }).list();
      const t = renderTable(rows, [BASELINE, FUTEX]).split('\n');
      expect(t).to.have.length(3);
      expect(cells(rows, [BASELINE, FUTEX])).to.deep.equal(['1000', '500 (0.50x)']);
    });

    it('runs 5 rounds by default, 2 with --quick, and what --rounds says', () => {
      expect(makePlan(false).rounds).to.equal(5);
      expect(makePlan(true).rounds).to.equal(2);
      expect(makePlan(false, 7).rounds).to.equal(7);
    });

    it('refuses --no-pin with --vm (the guests place their own peers), before it boots anything', () => {
      const cli = path.resolve(__dirname, '../../../bin/intervmfs.js');
      const r = spawnSync(process.execPath, [cli, 'bench', '--vm', '--no-pin'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).to.equal(2); // a usage error
      expect(r.stderr).to.match(/bench --only, --seed and --no-pin are for the host bench/);
    });

    it('refuses --rounds 0 with a clear message and a non-zero exit, before it measures anything', () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-rounds-'));
      try {
        const cli = path.resolve(__dirname, '../../../bin/intervmfs.js');
        // Were it not refused, the bench would start: the timeout stops it (and it cleans up on SIGTERM).
        const r = spawnSync(process.execPath, [cli, 'bench', '--rounds', '0', '--out', out], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status, r.stderr).to.equal(1);
        expect(r.stderr).to.match(/option '--rounds <n>' argument '0' is invalid\. must be a whole number from 1 to 100/);
        expect(fs.readdirSync(out)).to.deep.equal([]);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });
  });
  it('visits the channels in a shuffled order each round: every round all of them once, predecessors changing, the same seed the same orders', () => {
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const orders = roundOrders(names, 5, 1234);
    for (const o of orders) expect([...o].sort()).to.deep.equal([...names].sort());
    // Under the old rotation each channel had one predecessor in every round.
    const before = new Map<string, Set<string>>();
    for (const o of orders) o.forEach((c, i) => (before.get(c) ?? before.set(c, new Set()).get(c)!).add(i === 0 ? '(first)' : o[i - 1]));
    const varied = [...before.values()].filter((s) => s.size > 1).length;
    expect(varied).to.be.greaterThan(names.length / 2);
    expect(roundOrders(names, 5, 1234)).to.deep.equal(orders);
    expect(roundOrders(names, 5, 1235)).not.to.deep.equal(orders);
  });

  it('states intervmfs against the C reference as the ratio of medians, with the rounds\' own ratios and how many rounds it was behind in', () => {
    const both: Row[] = [
      { workload: 'stream, 1 MiB writes', metric: 'MB/s', better: 'higher', values: { f: 900, ref: 1000 }, rounds: { f: [900, 800, 1200], ref: [1000, 1000, 1000] } },
      { workload: 'ping-pong 64 B', metric: 'p99 µs', better: 'lower', values: { f: 150, ref: 100 } },
      { workload: 'one-shot 1 GiB', metric: 'median ms', better: 'lower', values: { f: 90, ref: 100 } },
      { workload: 'only one', metric: 'MB/s', better: 'higher', values: { f: 1 } },
    ];
    expect(speedup(both[0], 'f', 'ref')).to.be.closeTo(0.9, 1e-9);
    expect(speedup(both[1], 'f', 'ref')).to.be.closeTo(2 / 3, 1e-9);
    const lines = againstReference(both, 'f', 'ref');
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^f against ref: .*the rounds' own ratios\]:$/);
    expect(lines[1]).to.match(/stream, 1 MiB writes, MB\/s\s+0\.90x \[0\.80–1\.20\], behind in 2 of 3 rounds$/);
    expect(lines[2]).to.match(/ping-pong 64 B, p99 µs\s+1\.50x  \(behind\)$/);
    expect(lines[3]).to.match(/one-shot 1 GiB, median ms\s+0\.90x$/);
  });

  it('runs the columns --only names (any case) with the kernel FIFO, and names the known ones for an unknown name', () => {
    const setups: [string, number][] = [['intervmfs futex', 1], ['C reference (FUSE)', 2], [BASELINE, 3], ['Unix socket', 4]];
    expect(selectColumns(setups).map(([n]) => n)).to.deep.equal(setups.map(([n]) => n));
    expect(selectColumns(setups, ['c reference (fuse)', ' intervmfs futex']).map(([n]) => n)).to.deep.equal(['intervmfs futex', 'C reference (FUSE)', BASELINE]);
    expect(() => selectColumns(setups, ['intervmfs', 'Unix socket'])).to.throw(/no column named "intervmfs"; the columns are: intervmfs futex, C reference \(FUSE\), kernel FIFO, Unix socket/);
  });

  describe('where the peers run', () => {
    it('reads a kernel CPU list, and refuses one it cannot read, saying what it read', () => {
      expect(parseCpuList('0-3,6')).to.deep.equal([0, 1, 2, 3, 6]);
      expect(parseCpuList('1')).to.deep.equal([1]);
      expect(parseCpuList('3-1')).to.equal(undefined);
      expect(parseCpuList('0-1,x')).to.equal(undefined);
      expect(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-1\n')).to.deep.equal([0, 1]);
      expect(() => allowedCpus('Cpus_allowed_list:\t0-,2\n')).to.throw(/cannot tell which CPUs this process may use \(Cpus_allowed_list: 0-,2\)/);
      expect(() => allowedCpus('Name:\tnode\n')).to.throw(/Cpus_allowed_list: missing/);
    });

    it('puts both peers of pair 0 on the first allowed CPU and spreads the pairs of a many-channel run round robin', () => {
      expect([0, 1, 2, 3, 4].map((i) => pairCpu([2, 5], i))).to.deep.equal([2, 5, 2, 5, 2]);
      const e = { sendData: 'd', sendAck: 'k', recvData: 'd', recvAck: 'k' };
      expect(peerCommand(['send', 'd', 'k', '10', '10'], e)).to.deep.equal([PEER, ['send', 'd', 'k', '10', '10']]);
      expect(peerCommand(['pong', 'd', 'k', '10', '64'], { ...e, cpu: 1 })).to.deep.equal(['taskset', ['--cpu-list', '1', PEER, 'pong', 'd', 'k', '10', '64']]);
    });

    it('moves data through a pinned pair, on the CPU it was given (the writer reports where it could run)', async function () {
      this.timeout(30_000);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-pin-'));
      const fifo = kernelFifo(dir, 1);
      try {
        const cpus = allowedCpus();
        const last = cpus[cpus.length - 1];
        const s = await transfer({ ...fifo.pair(0), cpu: last }, 2 * 1024 * 1024, 65536, true);
        expect(s.cpus).to.equal(String(last));
      } finally {
        fifo.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('starts a sender given a start time no earlier, and times it from then; refuses a start time that is not one', async function () {
      this.timeout(30_000);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-start-'));
      const fifo = kernelFifo(dir, 1);
      try {
        const delayNs = 1_000_000_000n;
        const begun = process.hrtime.bigint();
        const env = { INTERVMFS_PEER_START_NS: String(begun + delayNs) };
        const s = await transfer({ ...fifo.pair(0), env }, 65536, 65536, true);
        const took = process.hrtime.bigint() - begun;
        expect(took >= delayNs, `the whole transfer took ${took} ns`).to.equal(true);
        expect(Number(s.ns)).to.be.below(Number(delayNs));
        await transfer({ ...fifo.pair(0), env: { INTERVMFS_PEER_START_NS: 'soon' } }, 4096, 4096).then(
          () => expect.fail('a start time of "soon" was taken'),
          (err: Error) => expect(err.message).to.match(/INTERVMFS_PEER_START_NS=soon is not a time in nanoseconds/),
        );
      } finally {
        fifo.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
