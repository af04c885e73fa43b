// What a bench run says when it fails, what it leaves mounted, and how the
// C reference column is labelled: the failure names the stage, the channel
// and the failing program's exit and stderr; mounts under the work folder
// are found (deepest first) so that none outlives the run; a column with a
// note (the C reference is a ceiling, not a product) carries it under the table.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { UserError } from '../../src/errors';
import { BenchFailure, describeError, stage, tail } from '../../src/bench/failure';
import { mountsUnder, parseMountpoints } from '../../src/bench/mounts';
import { transfer } from '../../src/bench/peer';
import { BASELINE, Row } from '../../src/bench/results';
import { renderTable } from '../../src/bench/table';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('bench failures and the C reference column', () => {
  it('keeps the last lines of a program output, without blank ones', () => {
    expect(tail('one\n\ntwo\nthree\n', 2)).to.equal('    two\n    three');
    expect(tail('')).to.equal('');
  });

  it('describes a program that failed by its command, exit code and stderr tail, not by a Node stack', () => {
    const err = thrown(() => execFileSync('sh', ['-c', 'echo first >&2; echo cannot mount here >&2; exit 3'], { stdio: 'pipe' }));
    const text = describeError(err);
    expect(text).to.match(/^`sh -c echo first >&2; echo cannot mount here >&2; exit 3` exited with code 3; its stderr ends:\n {4}first\n {4}cannot mount here$/);
    expect(text).not.to.include('node:');
  });

  it('describes a program killed by a signal, and one that could not be started', () => {
    // Without the sanitizer runtime the unit tests may run under (scripts/sanitize.sh): it would report the SEGV on stderr.
    const plain = { ...process.env, LD_PRELOAD: '' };
    expect(describeError(thrown(() => execFileSync('sh', ['-c', 'kill -SEGV $$'], { stdio: 'pipe', env: plain })))).to.match(/`sh -c kill -SEGV \$\$` was killed by SIGSEGV$/);
    expect(describeError(thrown(() => execFileSync('/nonexistent/intervmfs-peer', ['send'], { stdio: 'pipe' })))).to.match(
      /^could not start \/nonexistent\/intervmfs-peer .*ENOENT$/,
    );
  });

  it('names the stage and the channel, adds what the channel diagnoses, and is a UserError (printed without a stack)', async () => {
    const channel = { name: 'C reference (FUSE)', diagnose: () => '  intervmfs-cref side a (pid 7) was killed by SIGSEGV' };
    let caught: unknown;
    await stage('one-shot 2 MiB, run 2/3', channel, () => Promise.reject(new Error('peer recv x exited with code 1'))).catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(BenchFailure).and.instanceOf(UserError);
    expect((caught as BenchFailure).exitCode).to.equal(1);
    expect((caught as Error).message).to.equal(
      'bench failed: one-shot 2 MiB, run 2/3, C reference (FUSE): peer recv x exited with code 1\n  intervmfs-cref side a (pid 7) was killed by SIGSEGV',
    );
    // An inner stage's failure is not wrapped twice.
    const inner = new BenchFailure('bench failed: setting up, intervmfs futex: x');
    await stage('outer', 'kernel FIFO', () => Promise.reject(inner)).catch((e) => (caught = e));
    expect(caught).to.equal(inner);
    expect(await stage('fine', 'kernel FIFO', () => 42)).to.equal(42);
  });

  it('stops the other end of a pair when one end fails, and says which end failed and what it printed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-unit-'));
    try {
      // recv would wait forever in open() for a writer of the FIFO; send cannot open its missing path.
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const missing = path.join(dir, 'missing', 'data');
      let caught: unknown;
      await transfer({ sendData: missing, sendAck: fifo, recvData: fifo, recvAck: fifo }, 4096, 4096).catch((e) => (caught = e));
      expect((caught as Error).message).to.match(/^peer send .*missing\/data .* exited with code 1; its stderr ends:\n {4}peer: .*missing\/data: No such file or directory$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the mounts strictly inside the work folder in /proc/mounts, deepest first, with escaped spaces decoded', () => {
    const procMounts = [
      'sysfs /sys sysfs rw 0 0',
      'intervmfs /tmp/intervmfs-bench-x/futex-a fuse.intervmfs rw 0 0',
      'intervmfs-cref /tmp/intervmfs-bench-x/cref\\040a fuse.intervmfs-cref rw 0 0',
      'tmpfs /tmp/intervmfs-bench-x/futex-a/deeper tmpfs rw 0 0',
      'intervmfs /tmp/intervmfs-bench-xy/futex-a fuse.intervmfs rw 0 0',
      'tmpfs /tmp/intervmfs-bench-x tmpfs rw 0 0',
      '',
    ].join('\n');
    expect(parseMountpoints(procMounts)).to.include('/tmp/intervmfs-bench-x/cref a');
    expect(mountsUnder('/tmp/intervmfs-bench-x/', procMounts)).to.deep.equal([
      '/tmp/intervmfs-bench-x/futex-a/deeper',
      '/tmp/intervmfs-bench-x/futex-a',
      '/tmp/intervmfs-bench-x/cref a',
    ]);
  });

  it('prints each shown column’s note under the table, and nothing more when there is none', () => {
    const rows: Row[] = [{ workload: 'ping-pong 64 B x2000', metric: 'p50 µs', better: 'lower', values: { [BASELINE]: 10, 'C reference (FUSE)': 30 } }];
    const notes = { 'C reference (FUSE)': 'a ceiling, not a product', 'not shown': 'x' };
    const t = renderTable(rows, [BASELINE, 'C reference (FUSE)'], notes).split('\n');
    expect(t[2]).to.match(/ping-pong 64 B x2000\s+p50 µs\s+10\.0\s+30\.0 \(3\.00x\)$/);
    expect(t.slice(3)).to.deep.equal(['', 'notes:', '  C reference (FUSE): a ceiling, not a product']);
    expect(renderTable(rows, [BASELINE, 'C reference (FUSE)']).split('\n')).to.have.length(3);
  });
});
