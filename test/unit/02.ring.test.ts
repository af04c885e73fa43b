// The byte rings under each channel, driven through the addon the way the
// channel service drives them: side a produces into ring 0, side b consumes
// it (and the other way round for ring 1). What is checked is what the two
// peers observe: counts returned, bytes received, and refusals (-EIO) when
// the shared indices cannot be trusted.
import { expect } from 'chai';
import { addon, Endpoint, Memsections } from '../../src/native';
import { EIO, fc, pattern, Peers, ringStateOffset, L, useScratch, writeU64 } from './helpers';

describe('ring', () => {
  const s = useScratch();
  let peers: Peers;
  let control: string;
  let ringSize: number;
  let slot: number;
  let generation: number;

  beforeEach(async () => {
    const set = s.formatted();
    control = set.paths[0];
    ringSize = set.geometry.ringSize;
    peers = s.peers(set.paths, 'poll');
    const r = await peers.a.createChannel('ring', 0o600, 0, 0, Date.now());
    expect(r.errno).to.equal(0);
    ({ slot, generation } = r);
  });

  const produce = (ms: Memsections, data: Buffer, minLength: number) => ms.produce(slot, generation, data, data.length, minLength);
  /** Consumes up to `length` bytes; returns the count and the bytes. */
  const consume = (ms: Memsections, length: number) => {
    const buf = Buffer.alloc(length);
    const n = ms.consume(slot, generation, buf, length);
    return { n, data: buf.subarray(0, Math.max(n, 0)) };
  };
  /** Fill level of the ring a -> b as side b sees it, via endpointState. */
  const inFill = (ms: Memsections) => {
    const st = new Float64Array(Endpoint.Length);
    expect(ms.endpointState(slot, generation, st)).to.equal(true);
    return st[Endpoint.InFill];
  };

  it('carries the bytes side a produces to side b, and not back to side a', () => {
    const msg = Buffer.from('hello, peer');
    expect(produce(peers.a, msg, msg.length)).to.equal(msg.length);
    expect(consume(peers.a, 64).n, 'side a reads its own bytes').to.equal(0);
    const got = consume(peers.b, 64);
    expect(got.n).to.equal(msg.length);
    expect(got.data).to.deep.equal(msg);
  });

  it('keeps the two directions apart', () => {
    expect(produce(peers.a, Buffer.from('a->b'), 4)).to.equal(4);
    expect(produce(peers.b, Buffer.from('b->a!'), 5)).to.equal(5);
    expect(consume(peers.b, 64).data.toString()).to.equal('a->b');
    expect(consume(peers.a, 64).data.toString()).to.equal('b->a!');
  });

  describe('when empty', () => {
    it('gives 0 to the consumer and leaves its buffer untouched', () => {
      const buf = Buffer.alloc(16, 0xee);
      expect(peers.b.consume(slot, generation, buf, buf.length)).to.equal(0);
      expect(buf).to.deep.equal(Buffer.alloc(16, 0xee));
    });

    it('gives 0 again once everything produced was consumed', () => {
      produce(peers.a, pattern(0, 1000), 1);
      expect(consume(peers.b, 4000).n).to.equal(1000);
      expect(consume(peers.b, 4000).n).to.equal(0);
    });

    it('never hands out more than asked for', () => {
      produce(peers.a, pattern(0, 1000), 1);
      const first = consume(peers.b, 10);
      expect(first.n).to.equal(10);
      expect(first.data).to.deep.equal(pattern(0, 10));
      expect(consume(peers.b, 4000).data).to.deep.equal(pattern(10, 990));
    });
  });

  describe('when full', () => {
    it('takes exactly ring-size bytes of a larger produce (minLength 1) and then nothing more', () => {
      expect(produce(peers.a, pattern(0, ringSize + 500), 1)).to.equal(ringSize);
      expect(inFill(peers.b)).to.equal(ringSize);
      expect(produce(peers.a, pattern(ringSize, 1), 1)).to.equal(0);
      expect(produce(peers.a, pattern(ringSize, 100), 100)).to.equal(0);
      const all = consume(peers.b, ringSize + 500);
      expect(all.n).to.equal(ringSize);
      expect(all.data).to.deep.equal(pattern(0, ringSize));
    });

    it('takes a partial produce when minLength is 1, and none when minLength does not fit', () => {
      produce(peers.a, pattern(0, ringSize), ringSize);
      consume(peers.b, 100); // 100 bytes of room
      expect(produce(peers.a, pattern(ringSize, 300), 300), 'minLength 300 in 100 bytes').to.equal(0);
      expect(produce(peers.a, pattern(ringSize, 300), 101), 'minLength 101 in 100 bytes').to.equal(0);
      expect(produce(peers.a, pattern(ringSize, 300), 100), 'minLength 100 in 100 bytes').to.equal(100);
      expect(consume(peers.b, 2 * ringSize).data).to.deep.equal(pattern(100, ringSize));
    });

    it('takes a partial produce of the room left (minLength 1)', () => {
      produce(peers.a, pattern(0, ringSize - 192), 1);
      expect(produce(peers.a, pattern(ringSize - 192, 4096), 1)).to.equal(192);
      expect(consume(peers.b, 2 * ringSize).data).to.deep.equal(pattern(0, ringSize));
    });
  });

  describe('PIPE_BUF atomicity', () => {
    const PIPE_BUF = addon.constants.pipeBuf;

    it('refuses a 4096-byte produce with minLength 4096 when 4095 bytes are free, and stores none of it', () => {
      produce(peers.a, pattern(0, ringSize - (PIPE_BUF - 1)), 1);
      expect(produce(peers.a, Buffer.alloc(PIPE_BUF, 0xab), PIPE_BUF)).to.equal(0);
      const got = consume(peers.b, 2 * ringSize);
      expect(got.n).to.equal(ringSize - (PIPE_BUF - 1));
      expect(got.data).to.deep.equal(pattern(0, ringSize - (PIPE_BUF - 1)));
    });

    it('takes a 4096-byte produce with minLength 4096 whole when 4096 bytes are free', () => {
      produce(peers.a, pattern(0, ringSize - PIPE_BUF), 1);
      expect(produce(peers.a, pattern(ringSize - PIPE_BUF, PIPE_BUF), PIPE_BUF)).to.equal(PIPE_BUF);
      expect(consume(peers.b, 2 * ringSize).data).to.deep.equal(pattern(0, ringSize));
    });
  });

  describe('wrap-around', () => {
    it('delivers a record that straddles the end of the ring in order', () => {
      produce(peers.a, pattern(0, ringSize - 1000), 1);
      expect(consume(peers.b, ringSize).n).to.equal(ringSize - 1000);
      // 3000 bytes: 1000 at the end of the slice, 2000 at its start.
      expect(produce(peers.a, pattern(ringSize - 1000, 3000), 3000)).to.equal(3000);
      expect(inFill(peers.b)).to.equal(3000);
      expect(consume(peers.b, ringSize).data).to.deep.equal(pattern(ringSize - 1000, 3000));
    });

    it('keeps working when the free-running byte counters pass 2^64', () => {
      // A channel that has carried almost 2^64 bytes: both counters just below the wrap.
      const nearWrap = (1n << 64n) - 3000n;
      writeU64(control, ringStateOffset(slot, 0) + L.ringHead, nearWrap);
      writeU64(control, ringStateOffset(slot, 0) + L.ringTail, nearWrap);
      expect(inFill(peers.b)).to.equal(0);
      expect(produce(peers.a, pattern(0, 6000), 1)).to.equal(6000);
      expect(inFill(peers.b)).to.equal(6000);
      expect(consume(peers.b, ringSize).data).to.deep.equal(pattern(0, 6000));
      expect(produce(peers.a, pattern(6000, ringSize), 1)).to.equal(ringSize);
      expect(consume(peers.b, 2 * ringSize).data).to.deep.equal(pattern(6000, ringSize));
    });

    it('preserves every byte in order for any sequence of produce and consume sizes (property)', () => {
      const size = fc.oneof(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: ringSize + 512 }),
        fc.constantFrom(4095, 4096, 4097, ringSize - 1, ringSize, ringSize + 1),
      );
      type Op = { kind: 'produce'; length: number; atomic: boolean } | { kind: 'consume'; length: number };
      const op = fc.oneof<Op>(
        fc.record({ kind: fc.constant('produce' as const), length: size, atomic: fc.boolean() }),
        fc.record({ kind: fc.constant('consume' as const), length: size }),
      );
      // One ring for all runs: each run starts where the previous one left
      // the indices, so wrap-around happens at every offset.
      let produced = 0;
      let consumed = 0;
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
          for (const o of ops) {
            const fill = produced - consumed;
            if (o.kind === 'produce') {
              const minLength = o.atomic ? o.length : 1;
              const space = ringSize - fill;
              const expected = space >= minLength && space > 0 ? Math.min(space, o.length) : 0;
              const n = produce(peers.a, pattern(produced, o.length), minLength);
              if (n !== expected) throw new Error(`produce(${o.length}, min ${minLength}) with ${space} free gave ${n}, expected ${expected}`);
              produced += n;
            } else {
              const got = consume(peers.b, o.length);
              const expected = Math.min(fill, o.length);
              if (got.n !== expected) throw new Error(`consume(${o.length}) with ${fill} queued gave ${got.n}, expected ${expected}`);
              if (!got.data.equals(pattern(consumed, got.n))) throw new Error(`bytes ${consumed}..${consumed + got.n} came out altered or out of order`);
              consumed += got.n;
            }
          }
          // Drain: whatever is left comes out intact too.
          const rest = consume(peers.b, ringSize);
          if (rest.n !== produced - consumed || !rest.data.equals(pattern(consumed, rest.n))) throw new Error('the bytes left in the ring came out wrong');
          consumed += rest.n;
        }),
        { numRuns: 150 },
      );
      expect(consumed).to.equal(produced);
    });
  });

  describe('corrupt indices', () => {
    const head = () => ringStateOffset(slot, 0) + L.ringHead;
    const tail = () => ringStateOffset(slot, 0) + L.ringTail;
    const both = () => [peers.a, peers.b].map((ms) => ms.endpointState(slot, generation, new Float64Array(Endpoint.Length)));

    it('a head more than a ring ahead of the tail gives -EIO to consumer and producer, and endpointState false', () => {
      writeU64(control, tail(), 1000n);
      writeU64(control, head(), BigInt(1000 + ringSize + 1));
      expect(peers.b.consume(slot, generation, Buffer.alloc(64), 64)).to.equal(EIO);
      expect(peers.a.produce(slot, generation, Buffer.alloc(64), 64, 1)).to.equal(EIO);
      expect(both()).to.deep.equal([false, false]);
    });

    it('a head behind the tail gives -EIO to consumer and producer, and endpointState false', () => {
      writeU64(control, tail(), 5000n);
      writeU64(control, head(), 4999n);
      expect(peers.b.consume(slot, generation, Buffer.alloc(64), 64)).to.equal(EIO);
      expect(peers.a.produce(slot, generation, Buffer.alloc(64), 64, 1)).to.equal(EIO);
      expect(both()).to.deep.equal([false, false]);
    });

    it('a head exactly one ring ahead is a full ring, not corruption', () => {
      writeU64(control, tail(), 1000n);
      writeU64(control, head(), BigInt(1000 + ringSize));
      expect(both()).to.deep.equal([true, true]);
      expect(peers.a.produce(slot, generation, Buffer.alloc(1), 1, 1)).to.equal(0);
      expect(peers.b.consume(slot, generation, Buffer.alloc(2 * ringSize), 2 * ringSize)).to.equal(ringSize);
    });

    it('leaves the other direction of the channel working', () => {
      writeU64(control, head(), BigInt(3 * ringSize));
      expect(peers.b.produce(slot, generation, Buffer.from('still fine'), 10, 10)).to.equal(10);
      expect(consume(peers.a, 64).data.toString()).to.equal('still fine');
    });
  });

  describe('a stale generation', () => {
    it('gives -EIO once the slot was freed and reused by a new channel', async () => {
      expect((await peers.b.unlinkChannel('ring')).errno).to.equal(0);
      const again = await peers.b.createChannel('newer', 0o600, 0, 0, Date.now());
      expect(again.slot, 'slot reused').to.equal(slot);
      expect(again.generation).to.not.equal(generation);

      expect(peers.a.produce(slot, generation, Buffer.from('x'), 1, 1)).to.equal(EIO);
      expect(peers.b.consume(slot, generation, Buffer.alloc(8), 8)).to.equal(EIO);
      expect(peers.b.endpointState(slot, generation, new Float64Array(Endpoint.Length))).to.equal(false);
      expect(peers.a.adjustOpen(slot, generation, true, false, 1)).to.equal(false);
      // The new channel is unaffected.
      expect(peers.a.produce(slot, again.generation, Buffer.from('y'), 1, 1)).to.equal(1);
    });

    it('gives -EIO for a freed slot and for a slot beyond the table', async () => {
      await peers.a.unlinkChannel('ring');
      expect(peers.b.consume(slot, generation, Buffer.alloc(8), 8)).to.equal(EIO);
      expect(peers.a.produce(1_000_000, 1, Buffer.from('x'), 1, 1)).to.equal(EIO);
    });
  });
});
