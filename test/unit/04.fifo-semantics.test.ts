// FIFO semantics across the two peers, through the FIFO engine each mount
// runs (native/engine): one engine over side a, one over side b of the same
// set, woken by their notifiers as in the daemon, each request on a thread of
// its own as on libfuse's. Each test is a scene a program reading or writing
// a FIFO on either VM would live through.
import { expect } from 'chai';
import { NotifyMode } from '../../src/native';
import { ChannelRef, EnginePair, EngineSide, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, useEnginePair } from './engine-side';
import { L, pattern, ringStateOffset, stateAfter, writeU64 } from './helpers';


const EINTR = -4;
const EIO = -5;
const EBADF = -9;
const EAGAIN = -11;
const EPIPE = -32;

interface ReadResult {
  n: number;
  data: Buffer;
}

function read(svc: EngineSide, fd: number, length: number, signal?: AbortSignal): Promise<ReadResult> {
  const buf = Buffer.alloc(length);
  return new Promise((resolve) => svc.read(fd, buf, length, (n) => resolve({ n, data: buf.subarray(0, Math.max(n, 0)) }), signal));
}

function write(svc: EngineSide, fd: number, data: Buffer, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve) => svc.write(fd, data, data.length, resolve, signal));
}

/** Reads until `total` bytes have arrived, `chunk` bytes at most per read. */
async function readExactly(svc: EngineSide, fd: number, total: number, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < total) {
    const r = await read(svc, fd, Math.min(chunk, total - got));
    if (r.n <= 0) throw new Error(`read answered ${r.n} after ${got} of ${total} bytes`);
    parts.push(Buffer.from(r.data));
    got += r.n;
  }
  return Buffer.concat(parts);
}

/**
 * A reader of "pipe" and a reader of "other" wait on side b; a write to
 * "pipe" must end the sleep of its reader alone, then a write to "other"
 * that of the other: two sleeps end in all (a herd would end three).
 * Returns how many times side b's bell was rung meanwhile.
 */
async function ownChannelAlone(fx: EnginePair): Promise<number> {
  const { A, B, ch, peers } = fx;
  const made = await peers.a.createChannel('other', 0o600, 0, 0, Date.now());
  const other: ChannelRef = { slot: made.slot, generation: made.generation, name: 'other' };
  const rPipe = B.open(ch, O_RDONLY);
  const rOther = B.open(other, O_RDONLY);
  const wPipe = A.open(ch, O_WRONLY);
  const wOther = A.open(other, O_WRONLY);
  const pipeRead = read(B, rPipe, 100);
  const otherRead = read(B, rOther, 100);
  await B.untilWaiting(2);
  const sleeps = () => peers.b.engineState()!.stats.waits;
  const bells = () => peers.b.sides()[1].bellsRung;
  const [sleepsBefore, bellsBefore] = [sleeps(), bells()];
  expect(await write(A, wPipe, Buffer.from('mine'))).to.equal(4);
  expect((await pipeRead).data.toString()).to.equal('mine');
  expect(await stateAfter(otherRead, 50)).to.equal('pending');
  expect(B.waiting).to.equal(1);
  expect(await write(A, wOther, Buffer.from('yours'))).to.equal(5);
  expect((await otherRead).data.toString()).to.equal('yours');
  expect(sleeps() - sleepsBefore, 'sleeps ended on side b: one per reader').to.equal(2);
  return bells() - bellsBefore;
}

/**
 * A reader waits on side b for a writer of side a; side a's mount ends
 * cleanly (detach): the reader gets end of file, woken by the detach.
 */
async function endsWhenWritingSideDetaches(fx: EnginePair): Promise<void> {
  const { A, B, ch, peers } = fx;
  const r = B.open(ch, O_RDONLY);
  A.open(ch, O_WRONLY);
  const pending = read(B, r, 100);
  await B.untilWaiting(1);
  peers.a.detach();
  expect((await pending).n, 'end of file').to.equal(0);
}

/**
 * Two mounted sides of one fresh set and a channel "pipe" between them. A
 * long grace for readers inside close(): the scenes decide when releases
 * come. Traced: the engine counts its sleeps, which a scene may compare.
 */
function fifoFixture(notify: NotifyMode): EnginePair {
  return useEnginePair({ notify, engine: { closingWaitMs: 60_000, trace: true } });
}

describe('FIFO semantics between the two sides', function () {
  this.timeout(5000);
  const fx = fifoFixture('futex');

  describe('reader', () => {
    it('waits while the channel is empty and no writer has attached yet', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const pending = read(B, r, 100);
      expect(await stateAfter(pending, 150)).to.equal('pending');
      expect(B.waiting).to.equal(1);
      // A writer on the other side arrives and writes: the reader wakes.
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('finally'))).to.equal(7);
      const got = await pending;
      expect(got.data.toString()).to.equal('finally');
      expect(B.waiting).to.equal(0);
    });

    it('opened after a writer came and went and its bytes were all read, waits for the next writer instead of reading EOF', async () => {
      const { A, B, ch } = fx;
      // One exchange where the reader leaves before the writer closes.
      const r1 = B.open(ch, O_RDONLY);
      const w1 = A.open(ch, O_WRONLY);
      expect(await write(A, w1, Buffer.from('first'))).to.equal(5);
      expect((await read(B, r1, 5)).data.toString()).to.equal('first');
      B.release(r1);
      A.release(w1);
      // The next reader opens before the next writer.
      const r2 = B.open(ch, O_RDONLY);
      const pending = read(B, r2, 100);
      expect(await stateAfter(pending, 150), 'no EOF from the finished writer').to.equal('pending');
      const w2 = A.open(ch, O_WRONLY);
      expect(await write(A, w2, Buffer.from('second'))).to.equal(6);
      expect((await pending).data.toString()).to.equal('second');
    });

    it('waits while the ring is empty and a writer is attached', async () => {
      const { A, B, ch } = fx;
      A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      expect(await stateAfter(read(B, r, 100), 150)).to.equal('pending');
    });

    it('gets what the writer on the other side wrote, without waiting for its buffer to fill', async () => {
      const { A, B, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      expect(await write(A, w, Buffer.from('0123456789'))).to.equal(10);
      const got = await read(B, r, 4096);
      expect(got).to.deep.include({ n: 10 });
      expect(got.data.toString()).to.equal('0123456789');
    });

    it('gets the bytes written before the writer closed, then EOF', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      await write(A, w, Buffer.from('last words'));
      A.release(w);
      expect((await read(B, r, 100)).data.toString()).to.equal('last words');
      expect((await read(B, r, 100)).n).to.equal(0);
    });

    it('is woken by a write on its own channel alone: the side\'s bell stays still and a reader of another channel sleeps on', async () => {
      const bellsRung = await ownChannelAlone(fx);
      expect(bellsRung, 'bells rung on side b by the two writes').to.equal(0);
    });

    it('gets EOF at once when the writing side\'s mount ends', async () => {
      await endsWhenWritingSideDetaches(fx);
    });

    it('gets EOF once every writer has closed and the ring is drained, and again on every later read', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const w1 = A.open(ch, O_WRONLY);
      const w2 = A.open(ch, O_WRONLY);
      await write(A, w1, Buffer.from('abc'));
      A.release(w1);
      expect((await read(B, r, 100)).data.toString()).to.equal('abc');
      const waiting = read(B, r, 100);
      expect(await stateAfter(waiting, 150), 'a writer is still attached').to.equal('pending');
      A.release(w2); // the last writer leaves: the waiting reader sees EOF
      expect((await waiting).n).to.equal(0);
      expect((await read(B, r, 100)).n).to.equal(0);
    });

    it('opened after that EOF, waits for a new writer instead of ending at once', async () => {
      const { A, B, ch } = fx;
      const r1 = B.open(ch, O_RDONLY);
      const w1 = A.open(ch, O_WRONLY);
      await write(A, w1, Buffer.from('first session'));
      A.release(w1);
      expect((await read(B, r1, 100)).n).to.equal(13);
      expect((await read(B, r1, 100)).n).to.equal(0);
      B.release(r1);

      const r2 = B.open(ch, O_RDONLY);
      const next = read(B, r2, 100);
      expect(await stateAfter(next, 150)).to.equal('pending');
      const w2 = A.open(ch, O_WRONLY);
      await write(A, w2, Buffer.from('second session'));
      expect((await next).data.toString()).to.equal('second session');
      A.release(w2);
      expect((await read(B, r2, 100)).n).to.equal(0);
    });

    it('opened after the previous reader drained the ring of a writer that left, waits for a new writer', async () => {
      const { A, B, ch } = fx;
      const r1 = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      await write(A, w, Buffer.from('all of it'));
      A.release(w);
      expect((await read(B, r1, 100)).n).to.equal(9); // drained, EOF not read
      B.release(r1);
      const r2 = B.open(ch, O_RDONLY);
      expect(await stateAfter(read(B, r2, 100), 150)).to.equal('pending');
    });

    it('cannot read from a write-only descriptor (EBADF)', async () => {
      const { A, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      expect((await read(A, w, 10)).n).to.equal(EBADF);
    });

    it('keeps many open descriptors apart, and refuses a handle once it is released (EBADF)', async () => {
      const { A, B, ch } = fx;
      // More descriptors than the table has stripes: neighbours share one.
      const readers = Array.from({ length: 130 }, () => B.open(ch, O_RDONLY));
      expect(new Set(readers).size, 'distinct handles').to.equal(130);
      expect(B.openFiles).to.equal(130);
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('hello'))).to.equal(5);
      for (const r of readers.slice(0, 129)) expect(B.release(r)).to.equal(0);
      expect(B.openFiles).to.equal(1);
      expect((await read(B, readers[0], 10)).n, 'a released handle').to.equal(EBADF);
      expect(B.release(readers[0]), 'released twice').to.equal(EBADF);
      expect((await read(B, readers[129], 100)).data.toString(), 'the one left open').to.equal('hello');
    });

    it('gets EIO, not garbage, when the shared ring indices are corrupt', async () => {
      const { A, B, ch, control, ringSize } = fx;
      A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      writeU64(control, ringStateOffset(ch.slot, 0) + L.ringHead, BigInt(2 * ringSize + 1));
      expect((await read(B, r, 100)).n).to.equal(EIO);
    });
  });

  describe('writer', () => {
    it('gets EPIPE once every reader that attached has closed', async () => {
      const { A, B, ch } = fx;
      const r1 = B.open(ch, O_RDONLY);
      const r2 = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('one'))).to.equal(3);
      B.release(r1);
      expect(await write(A, w, Buffer.from('two')), 'a reader is still attached').to.equal(3);
      B.release(r2);
      expect(await write(A, w, Buffer.from('three'))).to.equal(EPIPE);
      expect(await write(A, w, Buffer.from('four')), 'and on every later write').to.equal(EPIPE);
    });

    it('waiting on a full ring, gets EPIPE when the last reader closes', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, pattern(0, ringSize))).to.equal(ringSize);
      const blocked = write(A, w, Buffer.from('no room'));
      expect(await stateAfter(blocked, 150)).to.equal('pending');
      B.release(r);
      expect(await blocked).to.equal(EPIPE);
    });

    it('is not let write once the last reader has begun to close (flush), and gets EPIPE when its release comes', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('one'))).to.equal(3);
      B.flush(r); // close(2) has returned to the reader; FUSE's release is still on its way
      const next = write(A, w, Buffer.from('two'));
      expect(await stateAfter(next, 150), 'the write waits instead of landing in a dead reader').to.equal('pending');
      B.release(r);
      expect(await next).to.equal(EPIPE);
    });

    it('writes on when a flushed reader reads again (the close was of a duplicate descriptor)', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      B.flush(r);
      const next = write(A, w, Buffer.from('two'));
      expect(await stateAfter(next, 150)).to.equal('pending');
      const got = read(B, r, 10); // revives the reader, then receives what the writer could now write
      expect(await next).to.equal(3);
      expect((await got).data.toString()).to.equal('two');
    });

    it('writes on after a grace when a flushed reader never reads again nor is released (its duplicate lives on elsewhere)', async () => {
      // A pair of its own, with a short grace.
      const peers = fx.scratch.peers(fx.scratch.formatted().paths, 'futex', { closingWaitMs: 50 });
      const A2 = new EngineSide(peers.a);
      const B2 = new EngineSide(peers.b);
      fx.sides.push(A2, B2);
      const made = await peers.a.createChannel('grace', 0o600, 0, 0, Date.now());
      const ch2 = { slot: made.slot, generation: made.generation, name: 'grace' };
      const r = B2.open(ch2, O_RDONLY);
      const w = A2.open(ch2, O_WRONLY);
      B2.flush(r);
      expect(await write(A2, w, Buffer.from('held'))).to.equal(4);
      expect(await write(A2, w, Buffer.from('more')), 'no second wait for the same closing reader').to.equal(4);
      expect((await read(B2, r, 10)).data.toString()).to.equal('heldmore');
    });

    it('that opened before any reader, writes into the ring for the reader to come', async () => {
      const { A, B, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('early'))).to.equal(5);
      const r = B.open(ch, O_RDONLY);
      expect((await read(B, r, 100)).data.toString()).to.equal('early');
    });

    it('opened after EPIPE, writes for the next reader instead of failing at once', async () => {
      const { A, B, ch } = fx;
      const r1 = B.open(ch, O_RDONLY);
      const w1 = A.open(ch, O_WRONLY);
      B.release(r1);
      expect(await write(A, w1, Buffer.from('x'))).to.equal(EPIPE);
      A.release(w1);
      const w2 = A.open(ch, O_WRONLY);
      expect(await write(A, w2, Buffer.from('for later'))).to.equal(9);
      const r2 = B.open(ch, O_RDONLY);
      expect((await read(B, r2, 100)).data.toString()).to.equal('for later');
    });

    it('opened after a reader came and went without any writer, writes for the next reader instead of EPIPE', async () => {
      const { A, B, ch } = fx;
      // A reader killed while it waited on the empty channel: no writer saw it.
      B.release(B.open(ch, O_RDONLY));
      const w = A.open(ch, O_WRONLY);
      expect(await write(A, w, Buffer.from('still works'))).to.equal(11);
      A.release(w);
      const r = B.open(ch, O_RDONLY);
      expect((await read(B, r, 100)).data.toString()).to.equal('still works');
    });

    it('waits on a full ring and completes as the reader drains it', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      await write(A, w, pattern(0, ringSize));
      const blocked = write(A, w, pattern(ringSize, 100));
      expect(await stateAfter(blocked, 150)).to.equal('pending');
      expect((await read(B, r, 100)).n).to.equal(100);
      expect(await blocked).to.equal(100);
      expect(await readExactly(B, r, ringSize, ringSize)).to.deep.equal(pattern(100, ringSize));
    });

    it('cannot write to a read-only descriptor (EBADF)', async () => {
      const { B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      expect(await write(B, r, Buffer.from('x'))).to.equal(EBADF);
    });
  });

  describe('O_NONBLOCK', () => {
    it('gives EAGAIN at once to a read of an empty ring', async () => {
      const { A, B, ch } = fx;
      A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY | O_NONBLOCK);
      expect((await read(B, r, 10)).n).to.equal(EAGAIN);
      expect(B.waiting, 'it never waited').to.equal(0);
    });

    it('still gives a non-blocking reader the bytes there are', async () => {
      const { A, B, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY | O_NONBLOCK);
      await write(A, w, Buffer.from('here'));
      expect((await read(B, r, 10)).data.toString()).to.equal('here');
      expect((await read(B, r, 10)).n).to.equal(EAGAIN);
    });

    it('gives EAGAIN to a write into a full ring', async () => {
      const { A, B, ch, ringSize } = fx;
      B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY | O_NONBLOCK);
      expect(await write(A, w, pattern(0, ringSize))).to.equal(ringSize);
      expect(await write(A, w, Buffer.from('x'))).to.equal(EAGAIN);
      expect(A.waiting).to.equal(0);
    });

    it('gives EAGAIN to a write of up to PIPE_BUF bytes that does not fit whole, and stores none of it', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY | O_NONBLOCK);
      await write(A, w, pattern(0, ringSize - 100));
      expect(await write(A, w, Buffer.alloc(4096, 0xff))).to.equal(EAGAIN);
      expect(await readExactly(B, r, ringSize - 100, ringSize)).to.deep.equal(pattern(0, ringSize - 100));
      expect(await stateAfter(read(B, r, 10), 100), 'nothing more in the ring').to.equal('pending');
    });

    it('gives a write larger than PIPE_BUF the bytes that fit (a partial count)', async () => {
      const { A, B, ch, ringSize } = fx;
      B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY | O_NONBLOCK);
      await write(A, w, pattern(0, ringSize - 100));
      expect(await write(A, w, pattern(ringSize - 100, 5000))).to.equal(100);
    });
  });

  describe('PIPE_BUF atomicity', () => {
    it('keeps a waiting write of up to PIPE_BUF bytes out of the ring until all of it fits', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      await write(A, w, pattern(0, ringSize - 100));
      const record = write(A, w, Buffer.alloc(4096, 0xee));
      expect(await stateAfter(record, 100)).to.equal('pending');
      const before = await read(B, r, ringSize);
      expect(before.n, 'the reader saw part of the waiting record').to.equal(ringSize - 100);
      const after = await read(B, r, ringSize);
      expect(after.n, 'the record arrives in one piece').to.equal(4096);
      expect(after.data).to.deep.equal(Buffer.alloc(4096, 0xee));
      expect(await record).to.equal(4096);
    });

    it('never interleaves the 4096-byte records of 4 writers', async () => {
      const { A, B, ch } = fx;
      const RECORD = 4096;
      const PER_WRITER = 16;
      const WRITERS = 4;
      const r = B.open(ch, O_RDONLY);
      const record = (writer: number, seq: number) => {
        const b = Buffer.alloc(RECORD, 0x41 + writer);
        b.writeUInt16LE(seq, 0); // sequence number up front, writer id in every other byte
        return b;
      };
      const writers = Array.from({ length: WRITERS }, async (_, id) => {
        const w = A.open(ch, O_WRONLY);
        for (let seq = 0; seq < PER_WRITER; seq++) {
          const n = await write(A, w, record(id, seq));
          if (n !== RECORD) throw new Error(`writer ${id} record ${seq}: write answered ${n}`);
        }
        A.release(w);
      });
      // Odd-sized reads leave odd amounts of room: a record must still go in whole.
      const stream = await readExactly(B, r, WRITERS * PER_WRITER * RECORD, 1000);
      await Promise.all(writers);

      const nextSeq = new Array<number>(WRITERS).fill(0);
      for (let off = 0; off < stream.length; off += RECORD) {
        const rec = stream.subarray(off, off + RECORD);
        const id = rec[2] - 0x41;
        expect(id, `record at ${off}`).to.be.within(0, WRITERS - 1);
        expect(rec.subarray(2).every((x) => x === 0x41 + id), `record at ${off} is mixed`).to.equal(true);
        expect(rec.readUInt16LE(0), `writer ${id} out of order`).to.equal(nextSeq[id]++);
      }
      expect(nextSeq).to.deep.equal(new Array(WRITERS).fill(PER_WRITER));
      expect((await read(B, r, 10)).n, 'EOF once they all closed').to.equal(0);
    });
  });

  describe('interrupts', () => {
    it('answer a waiting read with EINTR, and the channel keeps working for the next reader', async () => {
      const { A, B, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      const ac = new AbortController();
      const interrupted = read(B, r, 100, ac.signal);
      expect(await stateAfter(interrupted, 100)).to.equal('pending');
      ac.abort();
      expect((await interrupted).n).to.equal(EINTR);
      expect(B.waiting).to.equal(0);

      await write(A, w, Buffer.from('after the interrupt'));
      expect((await read(B, r, 100)).data.toString()).to.equal('after the interrupt');
      const r2 = B.open(ch, O_RDONLY);
      const next = read(B, r2, 100);
      await write(A, w, Buffer.from('and more'));
      expect((await next).data.toString()).to.equal('and more');
    });

    it('a descriptor released while a read of it still waits (an abandoned request): stop answers the read, nothing breaks', async () => {
      const { A, B, ch } = fx;
      A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      const abandoned = read(B, r, 100);
      await B.untilWaiting(1);
      expect(B.release(r), 'released under the waiting read').to.equal(0);
      expect(await stateAfter(abandoned, 50)).to.equal('pending');
      B.stop();
      expect((await abandoned).n).to.equal(EIO);
      expect(B.waiting).to.equal(0);
    });

    it('leave the other waiting reads of the channel waiting', async () => {
      const { A, B, ch } = fx;
      const w = A.open(ch, O_WRONLY);
      const r1 = B.open(ch, O_RDONLY);
      const r2 = B.open(ch, O_RDONLY);
      const ac = new AbortController();
      const first = read(B, r1, 100, ac.signal);
      const second = read(B, r2, 100);
      ac.abort();
      expect((await first).n).to.equal(EINTR);
      expect(await stateAfter(second, 100)).to.equal('pending');
      await write(A, w, Buffer.from('for the second'));
      expect((await second).data.toString()).to.equal('for the second');
    });

    it('answer a waiting write with the bytes already moved', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      const ac = new AbortController();
      const big = write(A, w, pattern(0, 3 * ringSize), ac.signal);
      expect(await stateAfter(big, 100)).to.equal('pending');
      ac.abort();
      expect(await big).to.equal(ringSize);
      expect(await readExactly(B, r, ringSize, ringSize)).to.deep.equal(pattern(0, ringSize));
    });

    it('answer a waiting write that moved nothing with EINTR, leaving the ring as it was', async () => {
      const { A, B, ch, ringSize } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      await write(A, w, pattern(0, ringSize));
      const ac = new AbortController();
      const small = write(A, w, Buffer.alloc(100, 0xee), ac.signal);
      expect(await stateAfter(small, 100)).to.equal('pending');
      ac.abort();
      expect(await small).to.equal(EINTR);
      expect(await readExactly(B, r, ringSize, ringSize)).to.deep.equal(pattern(0, ringSize));
      expect(await stateAfter(read(B, r, 10), 100), 'the interrupted bytes never went in').to.equal('pending');
    });

    it('answer EINTR to a read whose signal was already aborted when it arrived', async () => {
      const { A, B, ch } = fx;
      A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      const ac = new AbortController();
      ac.abort(); // the interrupt came before the service got to the request
      const answer = read(B, r, 100, ac.signal);
      expect(await stateAfter(answer, 200), 'the read still waits').to.equal('settled');
      expect((await answer).n).to.equal(EINTR);
    });
  });

  describe('O_RDWR', () => {
    it('gives each side a duplex stream: each reads what the other wrote, never its own bytes', async () => {
      const { A, B, ch } = fx;
      const a = A.open(ch, O_RDWR);
      const b = B.open(ch, O_RDWR);
      const aWaits = read(A, a, 100);
      expect(await write(A, a, Buffer.from('ping'))).to.equal(4);
      expect((await read(B, b, 100)).data.toString()).to.equal('ping');
      expect(await stateAfter(aWaits, 100), 'side a does not read its own ping').to.equal('pending');
      expect(await write(B, b, Buffer.from('pong'))).to.equal(4);
      expect((await aWaits).data.toString()).to.equal('pong');
    });

    it('carries a read-write descriptor against a plain reader and writer on the other side', async () => {
      const { A, B, ch } = fx;
      const a = A.open(ch, O_RDWR);
      const br = B.open(ch, O_RDONLY);
      const bw = B.open(ch, O_WRONLY);
      await write(A, a, Buffer.from('to b'));
      await write(B, bw, Buffer.from('to a'));
      expect((await read(B, br, 100)).data.toString()).to.equal('to b');
      expect((await read(A, a, 100)).data.toString()).to.equal('to a');
      B.release(bw);
      expect((await read(A, a, 100)).n, 'EOF on the a side once b stops writing').to.equal(0);
    });
  });

  describe('a write larger than the ring', () => {
    it('completes in pieces while the reader drains, every byte in order', async () => {
      const { A, B, ch, ringSize } = fx;
      const w = A.open(ch, O_WRONLY);
      const r = B.open(ch, O_RDONLY);
      const data = pattern(0, 12 * ringSize + 777);
      const written = write(A, w, data);
      const got = await readExactly(B, r, data.length, 3000);
      expect(await written).to.equal(data.length);
      expect(got.equals(data), 'bytes altered or reordered').to.equal(true);
    });
  });
});

describe('FIFO semantics with the poll notifier', function () {
  this.timeout(5000);
  const fx = fifoFixture('poll');

  it('wakes a reader on a write to its own channel alone: the bell rings, the notifier passes it to that reader only', async () => {
    expect(await ownChannelAlone(fx), 'bells rung on side b by the two writes').to.equal(2);
  });

  it('gets a waiting reader EOF at once when the writing side\'s mount ends', async () => {
    await endsWhenWritingSideDetaches(fx);
  });

  it('wakes a waiting reader and a waiting writer through the bell alone', async () => {
    const { A, B, ch, ringSize } = fx;
    const r = B.open(ch, O_RDONLY);
    const first = read(B, r, 100);
    const w = A.open(ch, O_WRONLY);
    await write(A, w, Buffer.from('polled'));
    expect((await first).data.toString()).to.equal('polled');

    const data = pattern(0, 5 * ringSize);
    const written = write(A, w, data);
    expect((await readExactly(B, r, data.length, 5000)).equals(data)).to.equal(true);
    expect(await written).to.equal(data.length);
    A.release(w);
    expect((await read(B, r, 100)).n).to.equal(0);
  });
});

describe('an idle mount with the poll notifier', function () {
  this.timeout(5000);
  // Requests re-check on their own only once a minute: only the notifier
  // can pass the peer's ring on in time.
  const fx = useEnginePair({ notify: 'poll' });

  it('parks its notifier while nobody waits; the next reader sets it watching again and gets the bytes', async () => {
    const { A, B, ch } = fx;
    const r = B.open(ch, O_RDONLY);
    const w = A.open(ch, O_WRONLY);
    await B.untilNotifierParked(true);
    const pending = read(B, r, 100);
    await B.untilWaiting(1);
    await B.untilNotifierParked(false);
    expect(await write(A, w, Buffer.from('after the park'))).to.equal(14);
    expect((await pending).data.toString()).to.equal('after the park');
  });
});

describe('a spinning request with the poll notifier', function () {
  this.timeout(5000);
  // Spins far longer than the test may take, and sleeps a minute after: only
  // the ring's own word can end its wait in time.
  const fx = useEnginePair({ notify: 'poll', engine: { spinUs: 30_000_000 } });

  it('sees the peer\'s write by watching its ring while it spins, with no notifier thread to pass the bell on', async () => {
    const { A, B, ch, peers } = fx;
    peers.b.stopNotifier();
    const r = B.open(ch, O_RDONLY);
    const w = A.open(ch, O_WRONLY);
    const pending = read(B, r, 100);
    await B.untilWaiting(1);
    expect(await write(A, w, Buffer.from('seen by the spinner'))).to.equal(19);
    expect((await pending).data.toString()).to.equal('seen by the spinner');
  });
});
