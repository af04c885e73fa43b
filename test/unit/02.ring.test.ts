// The byte rings under each channel, as the programs on the two sides see
// them through their mounts' FIFO engines (native/engine): side a writes
// into ring 0, side b reads it (and the other way round for ring 1). What
// is checked is what a program observes: counts returned, bytes received,
// EAGAIN when a non-blocking request would wait, poll(2) events, and EIO
// (never garbage, never a crash) when the peer made the shared indices or
// the channel's entry impossible.
import { expect } from 'chai';
import { addon } from '../../src/native';
import { O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, POLLERR, POLLIN, POLLOUT, useEnginePair } from './engine-side';
import { EIO, entryOffset, fc, L, pattern, ringStateOffset, SMALL, writeU32, writeU64 } from './helpers';

const ENOENT = -2;
const EAGAIN = -11;
const PIPE_BUF = addon.constants.pipeBuf;

describe('ring', function () {
  this.timeout(5000);
  const fx = useEnginePair();

  /**
   * A non-blocking reader on side b, then a non-blocking writer on side a:
   * each request answers at once with what the ring holds or has room for.
   */
  const pair = () => {
    const r = fx.B.open(fx.ch, O_RDONLY | O_NONBLOCK);
    const w = fx.A.open(fx.ch, O_WRONLY | O_NONBLOCK);
    expect(r, 'reader opened').to.be.above(0);
    expect(w, 'writer opened').to.be.above(0);
    return {
      r,
      w,
      put: (data: Buffer) => fx.A.writeAsync(w, data),
      take: (length: number) => fx.B.readAsync(r, length),
    };
  };

  it('carries the bytes side a writes to side b, and not back to side a', async () => {
    const { A, B, ch } = fx;
    const a = A.open(ch, O_RDWR | O_NONBLOCK);
    const b = B.open(ch, O_RDWR | O_NONBLOCK);
    const msg = Buffer.from('hello, peer');
    expect(await A.writeAsync(a, msg)).to.equal(msg.length);
    expect((await A.readAsync(a, 64)).n, 'side a reads its own bytes').to.equal(EAGAIN);
    const got = await B.readAsync(b, 64);
    expect(got.n).to.equal(msg.length);
    expect(got.data).to.deep.equal(msg);
  });

  it('keeps the two directions apart', async () => {
    const { A, B, ch } = fx;
    const a = A.open(ch, O_RDWR | O_NONBLOCK);
    const b = B.open(ch, O_RDWR | O_NONBLOCK);
    expect(await A.writeAsync(a, Buffer.from('a->b'))).to.equal(4);
    expect(await B.writeAsync(b, Buffer.from('b->a!'))).to.equal(5);
    expect((await B.readAsync(b, 64)).data.toString()).to.equal('a->b');
    expect((await A.readAsync(a, 64)).data.toString()).to.equal('b->a!');
  });

  describe('when empty', () => {
    it('gives a non-blocking reader EAGAIN and leaves its buffer untouched', async () => {
      const { r } = pair();
      const buf = Buffer.alloc(16, 0xee);
      expect((await fx.B.readAsync(r, buf.length, { into: buf })).n).to.equal(EAGAIN);
      expect(buf).to.deep.equal(Buffer.alloc(16, 0xee));
    });

    it('leaves the buffer of a waiting reader untouched until bytes come, then fills only what came', async () => {
      const { A, B, ch } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      const buf = Buffer.alloc(16, 0xee);
      const pending = B.readAsync(r, buf.length, { into: buf });
      await B.untilWaiting(1);
      expect(buf).to.deep.equal(Buffer.alloc(16, 0xee));
      expect(await A.writeAsync(w, Buffer.from('x'))).to.equal(1);
      expect((await pending).n).to.equal(1);
      expect(buf).to.deep.equal(Buffer.concat([Buffer.from('x'), Buffer.alloc(15, 0xee)]));
    });

    it('gives EAGAIN again once everything written was read', async () => {
      const { put, take } = pair();
      expect(await put(pattern(0, 1000))).to.equal(1000);
      expect((await take(4000)).n).to.equal(1000);
      expect((await take(4000)).n).to.equal(EAGAIN);
    });

    it('never hands out more than asked for', async () => {
      const { put, take } = pair();
      await put(pattern(0, 1000));
      const first = await take(10);
      expect(first.n).to.equal(10);
      expect(first.data).to.deep.equal(pattern(0, 10));
      expect((await take(4000)).data).to.deep.equal(pattern(10, 990));
    });
  });

  describe('when full', () => {
    it('takes exactly ring-size bytes of a larger write, then nothing more, and polls as full', async () => {
      const { r, w, put, take } = pair();
      const { A, B, ringSize } = fx;
      expect(await put(pattern(0, ringSize + 500))).to.equal(ringSize);
      expect(A.poll(w) & POLLOUT, 'writable').to.equal(0);
      expect(B.poll(r) & POLLIN, 'readable').to.equal(POLLIN);
      expect(await put(pattern(ringSize, 1))).to.equal(EAGAIN);
      expect(await put(pattern(ringSize, 100))).to.equal(EAGAIN);
      expect(await put(pattern(ringSize, PIPE_BUF + 1)), 'larger than PIPE_BUF').to.equal(EAGAIN);
      const all = await take(ringSize + 500);
      expect(all.n).to.equal(ringSize);
      expect(all.data).to.deep.equal(pattern(0, ringSize));
    });

    it('takes a write of up to PIPE_BUF bytes whole or not at all: none of 300 or 101 bytes in 100 free, all of 100', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      expect(await put(pattern(0, ringSize))).to.equal(ringSize);
      expect((await take(100)).n).to.equal(100); // 100 bytes of room
      expect(await put(pattern(ringSize, 300)), '300 bytes in 100').to.equal(EAGAIN);
      expect(await put(pattern(ringSize, 101)), '101 bytes in 100').to.equal(EAGAIN);
      expect(await put(pattern(ringSize, 100)), '100 bytes in 100').to.equal(100);
      expect((await take(2 * ringSize)).data).to.deep.equal(pattern(100, ringSize));
    });

    it('gives a write larger than PIPE_BUF the room left (a partial count)', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      await put(pattern(0, ringSize - 192));
      expect(await put(pattern(ringSize - 192, PIPE_BUF + 1))).to.equal(192);
      expect((await take(2 * ringSize)).data).to.deep.equal(pattern(0, ringSize));
    });
  });

  describe('PIPE_BUF atomicity', () => {
    it('refuses a 4096-byte write when 4095 bytes are free, and stores none of it', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      await put(pattern(0, ringSize - (PIPE_BUF - 1)));
      expect(await put(Buffer.alloc(PIPE_BUF, 0xab))).to.equal(EAGAIN);
      const got = await take(2 * ringSize);
      expect(got.n).to.equal(ringSize - (PIPE_BUF - 1));
      expect(got.data).to.deep.equal(pattern(0, ringSize - (PIPE_BUF - 1)));
      expect((await take(10)).n, 'nothing of it went in').to.equal(EAGAIN);
    });

    it('takes a 4096-byte write whole when 4096 bytes are free', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      await put(pattern(0, ringSize - PIPE_BUF));
      expect(await put(pattern(ringSize - PIPE_BUF, PIPE_BUF))).to.equal(PIPE_BUF);
      expect((await take(2 * ringSize)).data).to.deep.equal(pattern(0, ringSize));
    });

    it('gives a 4097-byte write, beyond PIPE_BUF, the 4096 bytes that fit', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      await put(pattern(0, ringSize - PIPE_BUF));
      expect(await put(pattern(ringSize - PIPE_BUF, PIPE_BUF + 1))).to.equal(PIPE_BUF);
      expect((await take(2 * ringSize)).data).to.deep.equal(pattern(0, ringSize));
    });
  });

  describe('wrap-around', () => {
    it('delivers a record that straddles the end of the ring in order', async () => {
      const { put, take } = pair();
      const { ringSize } = fx;
      await put(pattern(0, ringSize - 1000));
      expect((await take(ringSize)).n).to.equal(ringSize - 1000);
      // 3000 bytes: 1000 at the end of the slice, 2000 at its start.
      expect(await put(pattern(ringSize - 1000, 3000))).to.equal(3000);
      const got = await take(ringSize);
      expect(got.n).to.equal(3000);
      expect(got.data).to.deep.equal(pattern(ringSize - 1000, 3000));
    });

    it('keeps working when the free-running byte counters pass 2^64', async () => {
      const { control, ch, ringSize } = fx;
      // A channel that has carried almost 2^64 bytes: both counters just below the wrap.
      const nearWrap = (1n << 64n) - 3000n;
      writeU64(control, ringStateOffset(ch.slot, 0) + L.ringHead, nearWrap);
      writeU64(control, ringStateOffset(ch.slot, 0) + L.ringTail, nearWrap);
      const { put, take } = pair();
      expect((await take(10)).n, 'empty, not corrupt').to.equal(EAGAIN);
      expect(await put(pattern(0, 6000))).to.equal(6000);
      expect((await take(ringSize)).data).to.deep.equal(pattern(0, 6000));
      expect(await put(pattern(6000, ringSize))).to.equal(ringSize);
      expect((await take(2 * ringSize)).data).to.deep.equal(pattern(6000, ringSize));
    });

    it('preserves every byte in order for any sequence of write and read sizes (property)', async function () {
      this.timeout(120_000);
      const { put, take } = pair();
      const { ringSize } = fx;
      const size = fc.oneof(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: ringSize + 512 }),
        fc.constantFrom(PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1, ringSize - 1, ringSize, ringSize + 1),
      );
      type Op = { kind: 'write'; length: number } | { kind: 'read'; length: number };
      const op = fc.oneof<Op>(
        fc.record({ kind: fc.constant('write' as const), length: size }),
        fc.record({ kind: fc.constant('read' as const), length: size }),
      );
      // One ring for all runs: each run starts where the previous one left
      // the indices, so wrap-around happens at every offset.
      let written = 0;
      let consumed = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
          for (const o of ops) {
            const fill = written - consumed;
            if (o.kind === 'write') {
              const space = ringSize - fill;
              // Up to PIPE_BUF bytes go in whole or not at all; more, as many as fit.
              const fits = o.length <= PIPE_BUF ? space >= o.length : space > 0;
              const expected = fits ? Math.min(space, o.length) : EAGAIN;
              const n = await put(pattern(written, o.length));
              if (n !== expected) throw new Error(`write(${o.length}) with ${space} free gave ${n}, expected ${expected}`);
              if (n > 0) written += n;
            } else {
              const got = await take(o.length);
              const expected = fill > 0 ? Math.min(fill, o.length) : EAGAIN;
              if (got.n !== expected) throw new Error(`read(${o.length}) with ${fill} queued gave ${got.n}, expected ${expected}`);
              if (!got.data.equals(pattern(consumed, Math.max(got.n, 0)))) throw new Error(`bytes ${consumed}..${consumed + got.n} came out altered or out of order`);
              if (got.n > 0) consumed += got.n;
            }
          }
          // Drain: whatever is left comes out intact too.
          const left = written - consumed;
          const rest = await take(ringSize);
          if (rest.n !== (left > 0 ? left : EAGAIN) || !rest.data.equals(pattern(consumed, left))) throw new Error('the bytes left in the ring came out wrong');
          consumed += left;
        }),
        { numRuns: 150 },
      );
      expect(consumed).to.equal(written);
    });
  });

  describe('corrupt indices', () => {
    const head = () => ringStateOffset(fx.ch.slot, 0) + L.ringHead;
    const tail = () => ringStateOffset(fx.ch.slot, 0) + L.ringTail;

    const cases: [string, (ring: number) => bigint, (ring: number) => bigint][] = [
      ['a head more than a ring ahead of the tail', () => 1000n, (ring) => BigInt(1000 + ring + 1)],
      ['a head behind the tail', () => 5000n, () => 4999n],
    ];
    for (const [what, t, h] of cases) {
      it(`${what} gives EIO at once to a blocking reader and writer, POLLERR, and EIO to a new open`, async () => {
        const { A, B, ch, control, ringSize } = fx;
        const r = B.open(ch, O_RDONLY);
        const w = A.open(ch, O_WRONLY);
        writeU64(control, tail(), t(ringSize));
        writeU64(control, head(), h(ringSize));
        expect((await B.readAsync(r, 64)).n).to.equal(EIO);
        expect(await A.writeAsync(w, Buffer.alloc(64))).to.equal(EIO);
        expect(B.poll(r) & POLLERR, 'reader polls POLLERR').to.equal(POLLERR);
        expect(A.poll(w) & POLLERR, 'writer polls POLLERR').to.equal(POLLERR);
        expect(B.open(ch, O_RDONLY), 'a new reader').to.equal(EIO);
        expect(A.open(ch, O_WRONLY), 'a new writer').to.equal(EIO);
        expect([A.waiting, B.waiting], 'nothing left waiting').to.deep.equal([0, 0]);
        expect([B.release(r), A.release(w)]).to.deep.equal([0, 0]);
      });
    }

    it('a head exactly one ring ahead is a full ring, not corruption', async () => {
      const { A, B, control, ringSize } = fx;
      const { r, w, put, take } = pair();
      writeU64(control, tail(), 1000n);
      writeU64(control, head(), BigInt(1000 + ringSize));
      expect(B.poll(r) & (POLLIN | POLLERR), 'reader').to.equal(POLLIN);
      expect(A.poll(w) & (POLLOUT | POLLERR), 'writer').to.equal(0);
      expect(await put(Buffer.alloc(1))).to.equal(EAGAIN);
      expect((await take(2 * ringSize)).n).to.equal(ringSize);
    });

    // The engine checks both rings of a channel on every request
    // (docs/SECURITY.md: "make the affected channel answer EIO"): a ring
    // that can no longer be trusted takes its channel down in both
    // directions, and no other channel with it.
    it('answers EIO in the other direction of the damaged channel too, and leaves the other channels of the set working', async () => {
      const { A, B, ch, control, ringSize } = fx;
      const back = B.open(ch, O_WRONLY);
      const other = await fx.channel('other');
      const oa = A.open(other, O_RDWR);
      const ob = B.open(other, O_RDWR);
      writeU64(control, head(), BigInt(3 * ringSize));
      expect(await B.writeAsync(back, Buffer.from('not through')), 'b -> a on the damaged channel').to.equal(EIO);
      expect(await A.writeAsync(oa, Buffer.from('still fine'))).to.equal(10);
      expect((await B.readAsync(ob, 64)).data.toString()).to.equal('still fine');
      expect(await B.writeAsync(ob, Buffer.from('and back'))).to.equal(8);
      expect((await A.readAsync(oa, 64)).data.toString()).to.equal('and back');
    });
  });

  describe('a stale or impossible slot', () => {
    it('refuses an open by a slot and generation the slot no longer holds (freed and reused by a new channel) with EIO; the new channel works', async () => {
      const { A, B, ch, peers } = fx;
      expect((await peers.b.unlinkChannel('pipe')).errno).to.equal(0);
      const again = await fx.channel('newer');
      expect(again.slot, 'slot reused').to.equal(ch.slot);
      expect(again.generation).to.not.equal(ch.generation);

      expect(A.open(ch, O_WRONLY)).to.equal(EIO);
      expect(B.open(ch, O_RDONLY)).to.equal(EIO);
      expect(A.openName('pipe', O_WRONLY), 'by its old name').to.equal(ENOENT);
      // The new channel is unaffected.
      const r = B.open(again, O_RDONLY);
      const w = A.openName('newer', O_WRONLY);
      expect(await A.writeAsync(w, Buffer.from('y'))).to.equal(1);
      expect((await B.readAsync(r, 8)).data.toString()).to.equal('y');
    });

    it('gives EIO to open descriptors whose slot the peer rewrote with another generation, lets them be released, and opens the channel it now holds', async () => {
      const { A, B, ch, control } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      expect(await A.writeAsync(w, Buffer.from('x'))).to.equal(1);
      expect((await B.readAsync(r, 8)).data.toString()).to.equal('x');
      writeU32(control, entryOffset(ch.slot) + L.entryGeneration, ch.generation + 1);
      expect((await B.readAsync(r, 8)).n).to.equal(EIO);
      expect(await A.writeAsync(w, Buffer.from('y'))).to.equal(EIO);
      expect(B.poll(r) & POLLERR).to.equal(POLLERR);
      expect([B.release(r), A.release(w)]).to.deep.equal([0, 0]);
      expect([A.openFiles, B.openFiles]).to.deep.equal([0, 0]);
      const next = { ...ch, generation: ch.generation + 1 };
      const r2 = B.open(next, O_RDONLY);
      const w2 = A.open(next, O_WRONLY);
      expect(await A.writeAsync(w2, Buffer.from('z'))).to.equal(1);
      expect((await B.readAsync(r2, 8)).data.toString()).to.equal('z');
    });

    it('gives EIO to open descriptors whose slot the peer marked free', async () => {
      const { A, B, ch, control } = fx;
      const r = B.open(ch, O_RDONLY);
      const w = A.open(ch, O_WRONLY);
      writeU32(control, entryOffset(ch.slot) + L.entryState, 0);
      expect((await B.readAsync(r, 8)).n).to.equal(EIO);
      expect(await A.writeAsync(w, Buffer.from('y'))).to.equal(EIO);
      expect([B.release(r), A.release(w)]).to.deep.equal([0, 0]);
    });

    it('refuses an open of a freed slot and of slots beyond the table with EIO', async () => {
      const { A, B, ch, peers } = fx;
      await peers.a.unlinkChannel('pipe');
      expect(B.open(ch, O_RDONLY), 'freed').to.equal(EIO);
      expect(A.open({ ...ch, slot: SMALL.capacity }, O_WRONLY), 'the first slot beyond the table').to.equal(EIO);
      expect(A.open({ ...ch, slot: 1_000_000 }, O_RDWR), 'far beyond').to.equal(EIO);
      expect([A.openFiles, B.openFiles]).to.deep.equal([0, 0]);
    });
  });
});

describe('ring damage, as the mount is told of it', function () {
  this.timeout(5000);
  const fx = useEnginePair({ reportCorrupt: true });

  it('names the channel and the request that found it before the request is answered EIO', async () => {
    const { A, B, ch, control, ringSize } = fx;
    const r = B.open(ch, O_RDONLY);
    const w = A.open(ch, O_WRONLY);
    writeU64(control, ringStateOffset(ch.slot, 0) + L.ringHead, BigInt(2 * ringSize + 1));
    const seenAtRead = await new Promise<unknown[]>((resolve) => B.read(r, Buffer.alloc(64), 64, (n) => resolve([n, [...fx.corrupt]])));
    expect(seenAtRead).to.deep.equal([EIO, [['b', ch.slot, ch.generation, 'read']]]);
    const seenAtWrite = await new Promise<unknown[]>((resolve) => A.write(w, Buffer.alloc(64), 64, (n) => resolve([n, fx.corrupt.length])));
    expect(seenAtWrite).to.deep.equal([EIO, 2]);
    expect(fx.corrupt[1]).to.deep.equal(['a', ch.slot, ch.generation, 'write']);
  });

  it('tells nothing while the indices hold, even a full ring past 2^64', async () => {
    const { A, B, ch, control, ringSize } = fx;
    const nearWrap = (1n << 64n) - 100n;
    writeU64(control, ringStateOffset(ch.slot, 0) + L.ringHead, nearWrap);
    writeU64(control, ringStateOffset(ch.slot, 0) + L.ringTail, nearWrap);
    const r = B.open(ch, O_RDONLY | O_NONBLOCK);
    const w = A.open(ch, O_WRONLY | O_NONBLOCK);
    expect(await A.writeAsync(w, pattern(0, ringSize + 1))).to.equal(ringSize);
    expect(await A.writeAsync(w, Buffer.alloc(1))).to.equal(EAGAIN);
    expect((await B.readAsync(r, 2 * ringSize)).data).to.deep.equal(pattern(0, ringSize));
    expect((await B.readAsync(r, 1)).n).to.equal(EAGAIN);
    expect(fx.corrupt).to.deep.equal([]);
  });
});
