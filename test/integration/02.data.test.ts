// Bytes through a channel, both directions, with FIFO semantics a program
// relies on (EOF, EPIPE and SIGPIPE, EAGAIN, O_RDWR), under both notifiers.
// Everything that reads or writes a channel runs in a child process with a
// time limit: a read on an empty channel blocks by design.
import { expect } from 'chai';
import crypto from 'crypto';
import fsp from 'fs/promises';
import path from 'path';
import { Lab, mkfifo, probe, usePair } from './mounts';

const MiB = 1024 * 1024;

for (const notify of ['futex', 'poll'] as const) {
  describe(`integration: data through channels (--notify ${notify})`, function () {
    // 8 channels in 128 KiB data memsections: rings of 16 KiB, so 1 MiB
    // goes round each ring 64 times.
    const { lab, A, B, a, b } = usePair(`data-${notify}`, notify, ['--channels', '8', '--data-size', '128K']);

    async function channel(name: string): Promise<string> {
      await mkfifo(lab(), a(name));
      return name;
    }

    /** `cat` of a channel into our memory, in a child. */
    const reader = (l: Lab, file: string) => l.proc('cat', [file], { timeoutMs: 30_000 });
    /** Writes `text` to a channel with the shell's printf, in a child. */
    const writeText = (l: Lab, file: string, text: string) => l.sh('printf %s "$2" > "$1"', [file, text], { timeoutMs: 15_000 }).done;

    it('carries a line written on side a to a reader on side b, and one written on side b to a reader on side a', async () => {
      const ch = await channel('line');
      const atB = reader(lab(), b(ch));
      const w1 = await writeText(lab(), a(ch), 'hello from a\n');
      expect(w1.code, w1.stderr).to.equal(0);
      const r1 = await atB.done;
      expect(r1.timedOut, 'the reader on b got EOF').to.equal(false);
      expect(r1.code, r1.stderr).to.equal(0);
      expect(r1.stdout).to.equal('hello from a\n');

      const atA = reader(lab(), a(ch));
      const w2 = await writeText(lab(), b(ch), 'hello from b\n');
      expect(w2.code, w2.stderr).to.equal(0);
      const r2 = await atA.done;
      expect(r2.code, r2.stderr).to.equal(0);
      expect(r2.stdout).to.equal('hello from b\n');
    });

    it('carries 1 MiB each way at once, every byte equal, through a 16 KiB ring', async function () {
      const ch = await channel('bulk');
      const toB = crypto.randomBytes(MiB);
      const toA = crypto.randomBytes(MiB);
      const fileToB = lab().path(`payload-to-b-${notify}`);
      const fileToA = lab().path(`payload-to-a-${notify}`);
      await fsp.writeFile(fileToB, toB);
      await fsp.writeFile(fileToA, toA);
      const atB = reader(lab(), b(ch));
      const atA = reader(lab(), a(ch));
      const writers = [
        lab().sh('exec cat "$2" > "$1"', [a(ch), fileToB], { timeoutMs: 30_000 }).done,
        lab().sh('exec cat "$2" > "$1"', [b(ch), fileToA], { timeoutMs: 30_000 }).done,
      ];
      const [wa, wb, ra, rb] = await Promise.all([...writers, atB.done, atA.done]);
      expect(wa.code, `writer on a: ${wa.stderr}`).to.equal(0);
      expect(wb.code, `writer on b: ${wb.stderr}`).to.equal(0);
      expect(ra.code, `reader on b: ${ra.stderr}`).to.equal(0);
      expect(rb.code, `reader on a: ${rb.stderr}`).to.equal(0);
      expect(ra.out.length, 'bytes side b received').to.equal(MiB);
      expect(rb.out.length, 'bytes side a received').to.equal(MiB);
      expect(ra.out.equals(toB), 'side b received exactly what side a wrote').to.equal(true);
      expect(rb.out.equals(toA), 'side a received exactly what side b wrote').to.equal(true);
    });

    it('gives the reader what was written before the writer closed, then EOF (0) on every later read', async () => {
      const ch = await channel('eof');
      const r = await probe<{ first: string; second: number; third: number }>(
        `const r = fs.openSync(args[1], 'r');
         const w = fs.openSync(args[0], 'w');
         fs.writeSync(w, 'last words');
         fs.closeSync(w);
         const first = readText(r);
         const second = fs.readSync(r, Buffer.alloc(16));
         const third = fs.readSync(r, Buffer.alloc(16));
         fs.closeSync(r);
         done({ first, second, third });`,
        [a(ch), b(ch)],
      );
      expect(r).to.deep.equal({ first: 'last words', second: 0, third: 0 });
    });

    it('fails a write with EPIPE once the reader on the other side has closed', async () => {
      const ch = await channel('epipe');
      const r = await probe<{ before: number; after: string }>(
        `const w = fs.openSync(args[0], 'w');
         const r = fs.openSync(args[1], 'r');
         const before = fs.writeSync(w, 'one');
         fs.closeSync(r);
         const after = errno(() => fs.writeSync(w, 'two'));
         fs.closeSync(w);
         done({ before, after });`,
        [a(ch), b(ch)],
      );
      // Node ignores SIGPIPE, so the write reports EPIPE.
      expect(r).to.deep.equal({ before: 3, after: 'EPIPE' });
    });

    it('kills a shell writer (`yes > channel`) with SIGPIPE once the reader has closed, as a pipe would', async () => {
      const ch = await channel('sigpipe');
      const head = lab().proc('head', ['-c', '6', b(ch)], { timeoutMs: 15_000 });
      // exec: the shell becomes `yes`, so its end is the writer's own end.
      const yes = lab().sh('exec yes > "$1"', [a(ch)], { timeoutMs: 15_000 });
      const [h, y] = await Promise.all([head.done, yes.done]);
      expect(h.code, h.stderr).to.equal(0);
      expect(h.stdout).to.equal('y\ny\ny\n');
      expect(y.timedOut, 'the writer ended once the reader closed').to.equal(false);
      expect({ signal: y.signal, code: y.code, stderr: y.stderr }, 'yes ends by SIGPIPE, without an error message').to.deep.equal({
        signal: 'SIGPIPE',
        code: null,
        stderr: '',
      });
    });

    it('answers EAGAIN to an O_NONBLOCK read of an empty channel while a writer is open, and gives the bytes once written', async () => {
      const ch = await channel('nonblock');
      const r = await probe<{ empty: string; then: string }>(
        `const w = fs.openSync(args[0], 'w');
         const r = fs.openSync(args[1], C.O_RDONLY | C.O_NONBLOCK);
         const empty = errno(() => readText(r));
         fs.writeSync(w, 'now');
         const then = errno(() => readText(r));
         fs.closeSync(w);
         fs.closeSync(r);
         done({ empty, then });`,
        [a(ch), b(ch)],
      );
      expect(r).to.deep.equal({ empty: 'EAGAIN', then: 'now' });
    });

    it('gives each side a duplex stream with O_RDWR: each reads what the other wrote, not its own bytes', async () => {
      const ch = await channel('duplex');
      const r = await probe<string[]>(
        `const da = fs.openSync(args[0], 'r+');
         const db = fs.openSync(args[1], 'r+');
         fs.writeSync(da, 'ping');
         const atB = readText(db);
         fs.writeSync(db, 'pong');
         const atA = readText(da);
         fs.writeSync(da, 'ping2');
         fs.writeSync(db, 'pong2');
         const atB2 = readText(db);
         const atA2 = readText(da);
         fs.closeSync(da);
         fs.closeSync(db);
         done([atB, atA, atB2, atA2]);`,
        [a(ch), b(ch)],
      );
      expect(r).to.deep.equal(['ping', 'pong', 'ping2', 'pong2']);
    });
  });
}
