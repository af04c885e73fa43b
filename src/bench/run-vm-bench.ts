// `intervmfs bench --vm` (`npm run bench -- --vm`): the benchmark between two
// QEMU guests. Boots them with test/vm/run.sh running test/vm/guest-bench.sh,
// which measures intervmfs with --notify poll and --notify doorbell in
// alternating rounds and a kernel FIFO inside one guest as the baseline;
// prints the guests' progress, then the table (each figure the median of its
// rounds, with the lowest and highest round, and its ratio to that FIFO), and
// writes vm-bench.json (every sample and every round's value) and vm-bench.txt.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { UserError } from '../errors';
import { requireCheckout, runGuests } from './guests';
import { renderTable } from './table';
import { notifierRounds, parseSamples, vmChannels, vmRows } from './vm-rows';

export interface VmBenchOptions {
  quick: boolean;
  out: string;
  /** Rounds per notifier (default 2, with --quick 1). */
  rounds?: number;
}

export async function runVmBench(opts: VmBenchOptions): Promise<void> {
  requireCheckout('bench --vm');
  const startedAt = new Date();
  const figures = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-vm-bench-'));
  // Alternating rounds: the host is shared, so neither notifier gets all
  // the quiet (or all the noisy) minutes.
  const rounds = notifierRounds(opts.rounds ?? (opts.quick ? 1 : 2));
  try {
    const code = await runGuests('guest-bench.sh', rounds, figures);
    const samplesFile = path.join(figures, 'vm-bench.jsonl');
    if (code !== 0 || !fs.existsSync(samplesFile)) throw new UserError(`the guests did not finish the benchmark (test/vm/run.sh exit ${code}); see its output above`, 1);
    const samples = parseSamples(fs.readFileSync(samplesFile, 'utf8'));
    const rows = vmRows(samples);
    const channels = vmChannels(samples);
    const title = `intervmfs bench --vm, ${startedAt.toISOString().slice(0, 16)}Z, rounds ${rounds}; kernel FIFO = inside one guest`;
    const table = renderTable(rows, channels);
    console.log(title);
    console.log(table);
    fs.mkdirSync(opts.out, { recursive: true });
    const json = path.join(opts.out, 'vm-bench.json');
    const txt = path.join(opts.out, 'vm-bench.txt');
    fs.writeFileSync(json, JSON.stringify({ startedAt, seconds: (Date.now() - startedAt.getTime()) / 1000, rounds, rows, samples }, null, 2));
    fs.writeFileSync(txt, `${title}\n${table}\n`);
    console.log(`\nwrote ${json} and ${txt} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s)`);
  } finally {
    fs.rmSync(figures, { recursive: true, force: true });
  }
}
