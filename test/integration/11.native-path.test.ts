// What the native data path makes possible, checked with ordinary programs:
// many requests asleep at once without holding up other channels, and a
// channel that behaves like a FIFO to programs that seek or poll (bash's
// `read`, `read -t`, select). Each behaviour is asserted on a kernel FIFO
// too, so the test states the reference it matches.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import path from 'path';
import { mkfifo, Proc, usePair, waitUntil } from './mounts';

for (const notify of ['futex', 'poll'] as const) {
  describe(`integration: the native data path (--notify ${notify})`, function () {
    this.timeout(60_000);
    const { lab, A, B, a, b } = usePair(`native-${notify}`, notify, ['--channels', '8', '--data-size', '128K']);

    /** A kernel FIFO with the same name in the lab, for the reference run. */
    const kernelFifo = (name: string) => {
      const p = lab().path(`fifo-${name}`);
      execFileSync('mkfifo', [p]);
      return p;
    };

    it('keeps 40 readers blocked on one channel while a line goes through another, then ends them all with EOF', async () => {
      await mkfifo(lab(), a('idle'));
      await mkfifo(lab(), a('busy'));
      const readers: Proc[] = [];
      for (let i = 0; i < 40; i++) readers.push(lab().proc('cat', [b('idle')], { timeoutMs: 45_000 }));
      // All 40 are inside read(2) on the channel: their wait channel is the FUSE request.
      await waitUntil(
        () => readers.every((r) => r.child.pid !== undefined && /fuse|request_wait/.test(wchan(r.child.pid))),
        20_000,
        '40 readers blocked in the channel',
      );
      const line = lab().proc('cat', [b('busy')], { timeoutMs: 20_000 });
      const w = await lab().sh('echo through > "$1"', [a('busy')], { timeoutMs: 20_000 }).done;
      expect(w.code, w.stderr).to.equal(0);
      const got = await line.done;
      expect(got.stdout).to.equal('through\n');
      expect(readers.every((r) => r.child.exitCode === null && r.child.signalCode === null), 'the 40 readers still wait').to.equal(true);
      // One writer comes and goes: one reader gets its byte, all get EOF.
      const w2 = await lab().sh('printf x > "$1"', [a('idle')], { timeoutMs: 20_000 }).done;
      expect(w2.code, w2.stderr).to.equal(0);
      const results = await Promise.all(readers.map((r) => r.done));
      expect(results.filter((r) => r.timedOut), 'readers never answered').to.have.length(0);
      expect(results.map((r) => r.stdout).join('')).to.equal('x');
      expect(results.every((r) => r.code === 0)).to.equal(true);
    });

    it('refuses lseek with ESPIPE like a FIFO, so a bash `read` loop sees every line', async () => {
      await mkfifo(lab(), a('lines'));
      const loop = 'n=0; while read -r l; do n=$((n+1)); done < "$1"; echo $n';
      for (const [writeTo, readFrom] of [
        [kernelFifo('lines'), lab().path('fifo-lines')],
        [a('lines'), b('lines')],
      ]) {
        const reader = lab().sh(loop, [readFrom], { timeoutMs: 20_000 });
        const w = await lab().sh('seq 1000 > "$1"', [writeTo], { timeoutMs: 20_000 }).done;
        expect(w.code, w.stderr).to.equal(0);
        expect((await reader.done).stdout, readFrom).to.equal('1000\n');
      }
      const seek = `import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.lseek(fd, 0, os.SEEK_CUR); print("seekable")
except OSError as e:
    print(os.strerror(e.errno))`;
      for (const file of [lab().path('fifo-lines'), b('lines')]) {
        const r = await lab().proc('python3', ['-c', seek, file], { timeoutMs: 10_000 }).done;
        expect(r.stdout, file).to.equal('Illegal seek\n');
      }
    });

    it('tells select the truth: not readable while empty, readable once the peer writes', async () => {
      await mkfifo(lab(), a('sel'));
      // A reader with a writer attached and nothing queued: select times out,
      // then sees the line the writer sends, as on a kernel FIFO.
      const script = `import os, select, sys, time
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[2], os.O_WRONLY)
ready, _, _ = select.select([r], [], [], 0.3)
print("empty:", "readable" if ready else "timeout")
os.write(w, b"ping\\n")
ready, _, _ = select.select([r], [], [], 10)
print("after write:", "readable" if ready else "timeout", os.read(r, 100))
os.close(w)
ready, _, _ = select.select([r], [], [], 10)
print("after close:", "readable" if ready else "timeout", os.read(r, 100))`;
      const fifo = kernelFifo('sel');
      const ref = await lab().proc('python3', ['-c', script, fifo, fifo], { timeoutMs: 20_000 }).done;
      const got = await lab().proc('python3', ['-c', script, b('sel'), a('sel')], { timeoutMs: 20_000 }).done;
      expect(ref.stdout).to.equal("empty: timeout\nafter write: readable b'ping\\n'\nafter close: readable b''\n");
      expect(got.stdout, got.stderr).to.equal(ref.stdout);

    });
  });
}

function wchan(pid: number): string {
  try {
    return execFileSync('cat', [`/proc/${pid}/wchan`], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
