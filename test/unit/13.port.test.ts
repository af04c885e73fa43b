// The port transport (native/port/): two sides, each on a private set of
// its own, kept in step over a connected socket pair instead of sharing
// memory, as two guests joined by virtio-serial would be. Each side's FIFO
// engine runs unchanged on its copy (driven by the engine harness, as
// libfuse drives a mount); what is checked is what a user of either mount
// sees: channels made on either side listed on both, bytes intact both ways
// at once through rings smaller than the transfer, end of file and EPIPE
// across the port, a peer whose port closes counting as gone, and two sets
// of another geometry refusing each other by name.
import { expect } from 'chai';
import { createHash } from 'crypto';
import net from 'net';
import path from 'path';
import { addon, Memsections } from '../../src/native';
import { EngineSide, O_RDONLY, O_WRONLY, readExactly } from './engine-side';
import { delay, pattern, SMALL, useScratch } from './helpers';

const EPIPE = -32;
const SIDE_A = 0;
const SIDE_B = 1;

function socketPair(): [number, number] {
  const make = (addon as unknown as { socketPair?: () => [number, number] }).socketPair;
  if (!make) throw new Error('the port tests need the test build of the addon (npm run test:unit)');
  return make();
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await delay(5);
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('port transport: two private sets joined by a socket', function () {
  this.timeout(20000);
  const s = useScratch();
  let a: Memsections, b: Memsections, A: EngineSide, B: EngineSide, ringSize: number;
  const engines: EngineSide[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) e.stop();
    for (const c of cleanups.splice(0)) await c();
  });

  /** A set per side (side b's of `capacityB` channels, rings alike), each kept in step over its link, attached. */
  function attachBoth(linkA: string, linkB: string, capacityB = SMALL.capacity): void {
    const setA = s.formatted(SMALL.capacity, SMALL.dataSize);
    const setB = s.formatted(capacityB, (SMALL.dataSize / SMALL.capacity) * capacityB);
    ringSize = setA.geometry.ringSize;
    a = s.open(setA.paths);
    b = s.open(setB.paths);
    a.openPort(linkA);
    b.openPort(linkB);
    a.attach(SIDE_A, 'futex', process.pid, 'port-a', Date.now(), { tickMs: 60_000 });
    b.attach(SIDE_B, 'futex', process.pid, 'port-b', Date.now(), { tickMs: 60_000 });
    a.startNotifier();
    b.startNotifier();
    A = new EngineSide(a);
    B = new EngineSide(b);
    engines.push(A, B);
  }

  /** The two sides joined by a socket pair. */
  async function join(capacityB = SMALL.capacity): Promise<void> {
    const [fdA, fdB] = socketPair();
    attachBoth(`fd:${fdA}`, `fd:${fdB}`, capacityB);
  }

  async function joined(): Promise<void> {
    await join();
    await until('both ports are established', () => a.portState().state === 'established' && b.portState().state === 'established');
  }

  async function channel(name: string, on: Memsections = a, seenBy: Memsections = b) {
    const r = await on.createChannel(name, 0o640, 0, 0, Date.now());
    expect(r.errno, `mknod ${name}`).to.equal(0);
    await until(`${name} is listed on the other side`, () => seenBy.lookupChannel(name) !== undefined);
    return { slot: r.slot, generation: r.generation, name };
  }

  it('lists a channel made on side a on side b, and one made on side b (forwarded to a) on both when mknod returns', async () => {
    await joined();
    const made = await channel('from-a');
    expect(b.lookupChannel('from-a')).to.include({ slot: made.slot, generation: made.generation });
    const r = await b.createChannel('from-b', 0o600, 0, 0, Date.now());
    expect(r.errno).to.equal(0);
    expect(b.lookupChannel('from-b'), 'listed on b as soon as its mknod returned').to.include({ slot: r.slot, generation: r.generation });
    expect(a.lookupChannel('from-b')).to.include({ slot: r.slot, generation: r.generation });
    expect((await b.createChannel('from-a', 0o600, 0, 0, Date.now())).errno, 'a name side a has: EEXIST').to.equal(-17);
    expect((await b.unlinkChannel('from-a', Date.now())).errno).to.equal(0);
    await until('the unlink is seen on side b', () => b.lookupChannel('from-a') === undefined);
    expect(a.lookupChannel('from-a')).to.equal(undefined);
  });

  it('moves three rings of bytes each way at once through one channel, intact, with both sides ending in end of file', async () => {
    await joined();
    const ch = await channel('both');
    const size = 3 * ringSize + 123;
    const toB = pattern(0, size);
    const toA = pattern(7, size);
    const rB = B.open(ch, O_RDONLY);
    const rA = A.open(ch, O_RDONLY);
    const wA = A.open(ch, O_WRONLY);
    const wB = B.open(ch, O_WRONLY);
    const gotB = readExactly(B, rB, size, 4096);
    const gotA = readExactly(A, rA, size, 4096);
    const sent = Promise.all([A.writeAsync(wA, toB), B.writeAsync(wB, toA)]);
    expect(await sent).to.deep.equal([size, size]);
    expect(sha(await gotB)).to.equal(sha(toB));
    expect(sha(await gotA)).to.equal(sha(toA));
    A.release(wA);
    B.release(wB);
    expect((await B.readAsync(rB, 10)).n, 'side a closed its writer: end of file on b').to.equal(0);
    expect((await A.readAsync(rA, 10)).n).to.equal(0);
  });

  it('gives a writer on side a EPIPE once the reader on side b has closed', async () => {
    await joined();
    const ch = await channel('pipe');
    const r = B.open(ch, O_RDONLY);
    const w = A.open(ch, O_WRONLY);
    expect(await A.writeAsync(w, Buffer.from('hello'))).to.equal(5);
    expect((await B.readAsync(r, 10)).data.toString()).to.equal('hello');
    B.flush(r);
    B.release(r);
    await until('side a sees the reader gone', () => a.channels().find((c) => c.name === 'pipe')?.rings[0].readersOpen === 0);
    expect(await A.writeAsync(w, Buffer.from('more'))).to.equal(EPIPE);
  });

  it('ends a blocked reader on side a with end of file when side b detaches, and shows b detached; a port side attaches only once', async () => {
    await joined();
    const attachB = () => b.attach(SIDE_B, 'futex', process.pid, 'port-b', Date.now(), { tickMs: 60_000 });
    const once = /a port side attaches once: to attach again, open the set and its port anew/;
    const epochB = b.sides()[SIDE_B].epoch;
    expect(attachB, 'attached already: refused').to.throw(once);
    expect(b.sides()[SIDE_B].epoch, 'refused before the side changed: the same mount').to.equal(epochB);
    const ch = await channel('gone');
    const r = A.open(ch, O_RDONLY);
    const w = B.open(ch, O_WRONLY);
    expect(await B.writeAsync(w, Buffer.from('last words'))).to.equal(10);
    expect((await A.readAsync(r, 100)).data.toString()).to.equal('last words');
    await until('side a sees b attached', () => a.sides()[SIDE_B].attached);
    const blocked = A.readAsync(r, 100);
    await A.untilWaiting(1);
    B.stop();
    b.detach();
    expect((await blocked).n, 'the writer went with its side').to.equal(0);
    // The counts that end the reader may cross before b's SIDE and BYE.
    await until("side a shows b detached and the port closed (b's BYE)", () => !a.sides()[SIDE_B].attached && a.portState().state === 'closed');
    expect(a.portState().lastError, 'a clean detach is no error').to.equal('');
    expect(attachB, 'its link closed with the detach: refused, not a silent dead side').to.throw(once);
    expect(b.sides()[SIDE_B], "refused before the side changed: b's own copy still shows it detached, on the same mount").to.include({ attached: false, epoch: epochB });
  });

  it('survives a link that drops: bytes already across are read, then end of file; mknod on b is ENOTCONN; after it comes back, channels made meanwhile are listed and bytes flow again', async () => {
    // b reaches a through a relay the test can cut (a listens, b connects
    // and retries every 250 ms), as two guests' QEMUs would.
    const dir = s.tempDir();
    const aSock = path.join(dir, 'a.sock');
    const relaySock = path.join(dir, 'relay.sock');
    let links: net.Socket[] = [];
    let relay = net.createServer();
    const listen = () =>
      new Promise<void>((resolve) => {
        relay = net.createServer((down) => {
          const up = net.connect(aSock);
          for (const sock of [down, up]) sock.on('error', () => undefined);
          down.pipe(up);
          up.pipe(down);
          links.push(down, up);
        });
        relay.listen(relaySock, resolve);
      });
    // Closed first, so that b's next try (every 250 ms) finds nobody.
    const cut = () =>
      new Promise<void>((resolve) => {
        relay.close(() => resolve());
        for (const sock of links) sock.destroy();
        links = [];
      });
    cleanups.push(cut);
    await listen();
    attachBoth(`unix-listen:${aSock}`, `unix:${relaySock}`);
    const established = () => a.portState().state === 'established' && b.portState().state === 'established';
    await until('both ports are established', established);

    const ch = await channel('cut');
    const r = B.open(ch, O_RDONLY);
    const w = A.open(ch, O_WRONLY);
    const sent = pattern(3, ringSize);
    expect(await A.writeAsync(w, sent)).to.equal(ringSize);
    await until("the ring's bytes are in b's copy", () => b.channels().find((c) => c.name === 'cut')?.rings[0].head === ringSize);

    await cut();
    await until('each side sees the other detached', () => !a.sides()[SIDE_B].attached && !b.sides()[SIDE_A].attached);
    expect(sha(await readExactly(B, r, ringSize, 4096)), 'what had crossed before the cut').to.equal(sha(sent));
    expect((await B.readAsync(r, 10)).n, 'then end of file: the writer went with its side').to.equal(0);
    expect(await A.writeAsync(w, Buffer.from('x')), 'and EPIPE for the writer on a').to.equal(EPIPE);
    expect((await b.createChannel('during', 0o600, 0, 0, Date.now())).errno, "b's mknod while a cannot be reached").to.equal(-107);
    expect((await a.createChannel('made-during-cut', 0o600, 0, 0, Date.now())).errno).to.equal(0);
    A.release(w);
    B.release(r);

    await listen();
    await until('both ports are established again', established);
    await until('the channel made during the cut is listed on b', () => b.lookupChannel('made-during-cut') !== undefined);
    await until('each side sees the other attached', () => a.sides()[SIDE_B].attached && b.sides()[SIDE_A].attached);
    const r2 = B.open(ch, O_RDONLY);
    const w2 = A.open(ch, O_WRONLY);
    const again = pattern(9, 2 * ringSize + 7);
    const got = readExactly(B, r2, again.length, 4096);
    expect(await A.writeAsync(w2, again)).to.equal(again.length);
    expect(sha(await got), 'bytes flow again from where each copy stood').to.equal(sha(again));
    expect(a.portState().lastError + b.portState().lastError).to.equal('');
  });

  it("gives a side a that comes back on a fresh set side b's channels, and the bytes b had sent it again", async () => {
    const dir = s.tempDir();
    const aSock = path.join(dir, 'a.sock');
    attachBoth(`unix-listen:${aSock}`, `unix:${aSock}`);
    await until('both ports are established', () => a.portState().state === 'established' && b.portState().state === 'established');
    const ch = await channel('keep');
    const wA = A.open(ch, O_WRONLY);
    const wB = B.open(ch, O_WRONLY);
    const rB = B.open(ch, O_RDONLY);
    const toB = pattern(1, 1000);
    const toA = pattern(2, 500);
    expect(await A.writeAsync(wA, toB)).to.equal(1000);
    expect(await B.writeAsync(wB, toA)).to.equal(500);
    await until("side a's copy has b's 500 bytes", () => a.channels()[0]?.rings[1].head === 500);
    await until("side b's copy has a's 1000 bytes", () => b.channels()[0]?.rings[0].head === 1000);
    B.release(wB);

    // Side a goes away (its guest restarted on fresh memory): its set is
    // formatted again, and a new mount of side a comes up on it.
    A.stop();
    a.detach();
    a.close();
    const fresh = s.formatted(SMALL.capacity, SMALL.dataSize);
    a = s.open(fresh.paths);
    a.openPort(`unix-listen:${aSock}`);
    a.attach(SIDE_A, 'futex', process.pid, 'port-a', Date.now(), { tickMs: 60_000 });
    a.startNotifier();
    A = new EngineSide(a);
    engines.push(A);
    await until('both ports are established again', () => a.portState().state === 'established' && b.portState().state === 'established');
    await until("side a lists side b's channel", () => a.lookupChannel('keep') !== undefined);
    expect(a.lookupChannel('keep')).to.include({ slot: ch.slot, generation: ch.generation });
    expect(b.lookupChannel('keep'), 'side b keeps it').to.include({ slot: ch.slot, generation: ch.generation });
    const rA = A.open(ch, O_RDONLY);
    expect(sha(await readExactly(A, rA, 500, 4096)), "b's bytes, sent again to the new side a").to.equal(sha(toA));
    expect(sha(await readExactly(B, rB, 1000, 4096)), "a's bytes, which b had before").to.equal(sha(toB));
    const again = pattern(5, 3000);
    const wA2 = A.open(ch, O_WRONLY);
    const got = readExactly(B, rB, 3000, 4096);
    expect(await A.writeAsync(wA2, again)).to.equal(3000);
    expect(sha(await got), 'and new bytes flow from a').to.equal(sha(again));
    expect(a.portState().lastError + b.portState().lastError).to.equal('');
  });

  it('refuses a peer of another geometry, naming both, and stays unestablished', async () => {
    await join(SMALL.capacity * 2);
    await until('side a has refused the peer', () => a.portState().lastError !== '');
    expect(a.portState().lastError).to.equal(
      "the peer's set has 8 channels of 8 KiB, ours 4 of 8 KiB: format both with the same --channels and --data-size (format --force)",
    );
    expect(a.portState().state).to.not.equal('established');
    expect(b.portState().state).to.not.equal('established');
  });
});
