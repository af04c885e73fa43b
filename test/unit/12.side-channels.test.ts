// The library's native surface (native/addon_channels.cc): a side's FIFO
// engine called on the JavaScript thread with requests whose caller waits
// on its own (Request::caller_waits). Side a is driven that way, side b by
// the engine harness as libfuse drives a mount. What is checked: such a
// request never sleeps in the engine, yet keeps the rules of a blocking
// one (no end of file before a writer came, no write past readers inside
// close()), and an armed handle's peer rings the side, a disarmed one's not.
import { expect } from 'chai';
import { addon, SideChannels } from '../../src/native';
import { O_NONBLOCK, O_RDONLY, O_WRONLY, useEnginePair } from './engine-side';
import { delay, pattern } from './helpers';

const EAGAIN = -11;
const EPIPE = -32;

/** SideChannels over side a of the pair, closed after the test; `readies` counts its onReady calls. */
function useChannels(fx: ReturnType<typeof useEnginePair>) {
  const made: SideChannels[] = [];
  const state = { readies: 0, ch: undefined as unknown as SideChannels };
  beforeEach(() => {
    state.readies = 0;
    state.ch = new addon.SideChannels(fx.peers.a, () => state.readies++);
    made.push(state.ch);
  });
  afterEach(() => {
    for (const c of made.splice(0)) c.close();
  });
  return state;
}

const text = (s: string) => Buffer.from(s);

function read(ch: SideChannels, handle: number, length = 100): { n: number; data: string } {
  const buf = Buffer.alloc(length);
  const n = ch.read(handle, buf, length);
  return { n, data: buf.subarray(0, Math.max(n, 0)).toString() };
}

describe('library channels: requests whose caller waits in its event loop', function () {
  const fx = useEnginePair();
  const lib = useChannels(fx);

  it('tell a reader that no writer has attached to yet to wait (EAGAIN), where O_NONBLOCK reads end of file; it ends after the writer came and went', async () => {
    const r = lib.ch.open('pipe', O_RDONLY);
    expect(r).to.be.greaterThan(0);
    const nonblocking = fx.A.open(fx.ch, O_RDONLY | O_NONBLOCK);
    expect((await fx.A.readAsync(nonblocking, 10)).n, 'O_NONBLOCK: pipe(7) end of file without a writer').to.equal(0);
    expect(read(lib.ch, r).n, 'caller_waits: as a blocking reader, wait').to.equal(EAGAIN);
    expect(fx.A.waiting, 'nothing sleeps in the engine').to.equal(0);
    const w = fx.B.open(fx.ch, O_WRONLY);
    expect(await fx.B.writeAsync(w, text('hi'))).to.equal(2);
    fx.B.release(w);
    expect(read(lib.ch, r)).to.deep.equal({ n: 2, data: 'hi' });
    expect(read(lib.ch, r).n, 'the writer that attached is gone: end of file').to.equal(0);
  });

  it('answer a write into a full ring EAGAIN at once, keep a write of up to 4096 bytes whole, and count the part of a longer one that fits', async () => {
    const r = fx.B.open(fx.ch, O_RDONLY);
    const w = lib.ch.open('pipe', O_WRONLY);
    expect(lib.ch.write(w, pattern(0, fx.ringSize), fx.ringSize)).to.equal(fx.ringSize);
    expect(lib.ch.write(w, text('x'), 1)).to.equal(EAGAIN);
    expect(fx.A.waiting, 'nothing sleeps in the engine').to.equal(0);
    expect((await fx.B.readAsync(r, 100)).n).to.equal(100);
    expect(lib.ch.write(w, pattern(0, 4096), 4096), '4096 bytes do not fit in 100: none go in').to.equal(EAGAIN);
    expect(lib.ch.write(w, pattern(0, 8192), 8192), 'longer than PIPE_BUF: the 100 that fit').to.equal(100);
  });

  it("ring the side (onReady) on the peer's progress while a handle is armed, and leave its bell still once it is disarmed", async () => {
    const w = fx.B.open(fx.ch, O_WRONLY);
    const r = lib.ch.open('pipe', O_RDONLY);
    expect(lib.ch.poll(r, true), 'nothing to read yet').to.equal(0);
    const bell = () => fx.peers.a.sides()[0].bellsRung;
    const before = bell();
    const readies = lib.readies;
    expect(await fx.B.writeAsync(w, text('one'))).to.equal(3);
    expect(bell(), 'the armed reader had the peer ring side a').to.be.greaterThan(before);
    while (lib.readies === readies) await delay(2); // the notifier thread's onReady reaches the event loop
    expect(read(lib.ch, r)).to.deep.equal({ n: 3, data: 'one' });
    lib.ch.disarm(r);
    const disarmed = bell();
    expect(await fx.B.writeAsync(w, text('two'))).to.equal(3);
    expect(bell(), 'nobody armed: the write rang nothing').to.equal(disarmed);
    expect(read(lib.ch, r)).to.deep.equal({ n: 3, data: 'two' });
  });

  it('check their arguments, and keep FUSE glue off a side that a program drives', () => {
    const w = lib.ch.open('pipe', O_WRONLY);
    expect(() => lib.ch.write(w, Buffer.alloc(4), 5)).to.throw(RangeError, /beyond the buffer/);
    expect(() => lib.ch.read(w, 'no' as unknown as Buffer, 2)).to.throw(TypeError, /Buffer/);
    expect(() => fx.peers.a.fuseHooks()).to.throw(/SideChannels/);
  });
});

describe('library channels with the poll notifier', function () {
  const fx = useEnginePair({ notify: 'poll' });
  const lib = useChannels(fx);

  it('hear the peer\'s progress on an armed handle after the notifier parked on an idle side: arming wakes it', async () => {
    const w = fx.B.open(fx.ch, O_WRONLY);
    const r = lib.ch.open('pipe', O_RDONLY);
    await fx.A.untilNotifierParked(true);
    expect(lib.ch.poll(r, true), 'nothing to read yet').to.equal(0);
    await fx.A.untilNotifierParked(false);
    const readies = lib.readies;
    expect(await fx.B.writeAsync(w, text('late'))).to.equal(4);
    while (lib.readies === readies) await delay(2); // only the notifier thread calls onReady
    expect(read(lib.ch, r)).to.deep.equal({ n: 4, data: 'late' });
  });
});

describe('library channels: a write while every reader is inside close()', function () {
  describe('with a long grace', () => {
    const fx = useEnginePair({ engine: { tickMs: 60_000, closingWaitMs: 60_000 } });
    const lib = useChannels(fx);

    it('is answered EAGAIN at once instead of napping through the grace, then EPIPE once the release comes', () => {
      const r = fx.B.open(fx.ch, O_RDONLY);
      const w = lib.ch.open('pipe', O_WRONLY);
      fx.B.flush(r); // close(2) has returned to the reader; its release is on its way
      const t0 = Date.now();
      expect(lib.ch.write(w, text('two'), 3)).to.equal(EAGAIN);
      expect(Date.now() - t0, 'no nap on the caller thread (the grace is 60 s)').to.be.lessThan(1000);
      fx.B.release(r);
      expect(lib.ch.write(w, text('two'), 3)).to.equal(EPIPE);
    });
  });

  describe('with a short grace', () => {
    const fx = useEnginePair({ engine: { tickMs: 60_000, closingWaitMs: 100 } });
    const lib = useChannels(fx);

    it('writes as if the reader lived on once the grace, counted from its first attempt, is over (the close was of a duplicate)', async () => {
      const r = fx.B.open(fx.ch, O_RDONLY);
      const w = lib.ch.open('pipe', O_WRONLY);
      fx.B.flush(r);
      let n = lib.ch.write(w, text('held'), 4);
      expect(n, 'the first attempt is held').to.equal(EAGAIN);
      while (n === EAGAIN) {
        await delay(10); // the library's own re-check
        n = lib.ch.write(w, text('held'), 4);
      }
      expect(n).to.equal(4);
      expect((await fx.B.readAsync(r, 10)).data.toString()).to.equal('held');
    });
  });
});
