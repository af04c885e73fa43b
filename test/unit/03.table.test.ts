// The shared channel table: what each side sees when either creates or
// removes a channel, how names are refused, how a slot outlives its name
// while descriptors remain, how entries a peer scribbled are reported, and
// how the cross-peer table lock recovers from a holder that died.
import { expect } from 'chai';
import { addon } from '../../src/native';
import { silentLogger } from '../../src/log';
import { Directory } from '../../src/fs/directory';
import { EngineSide, O_RDONLY, O_RDWR, O_WRONLY } from './engine-side';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  ENAMETOOLONG,
  ENOSPC,
  entryOffset,
  L,
  lockOwner,
  Peers,
  pwrite,
  readU64,
  SIDE_A,
  SIDE_B,
  SMALL,
  useScratch,
  writeU32,
  writeU64,
} from './helpers';

const ENOENT = -2;
const names = (p: Peers, side: 'a' | 'b') => p[side].channels().map((c) => c.name).sort();

describe('channel table', () => {
  const s = useScratch();
  let peers: Peers;
  let paths: string[];
  let control: string;

  beforeEach(() => {
    ({ paths } = s.formatted());
    control = paths[0];
    peers = s.peers(paths, 'poll');
  });

  describe('create, list and unlink', () => {
    it('shows a channel created by side a to side b, with its mode and owner', async () => {
      const before = peers.b.tableVersion();
      const r = await peers.a.createChannel('from-a', 0o640, 1000, 100, 1_700_000_000_000);
      expect(r.errno).to.equal(0);
      const [c] = peers.b.channels();
      expect(c).to.include({ name: 'from-a', state: 'live', mode: 0o640, uid: 1000, gid: 100, ctimeMs: 1_700_000_000_000, corrupt: false });
      expect(c.slot).to.equal(r.slot);
      expect(c.generation).to.equal(r.generation);
      expect(peers.b.tableVersion()).to.be.greaterThan(before);
    });

    it('keeps only the permission bits of the mode', async () => {
      await peers.a.createChannel('fifo', 0o010644, 0, 0, 0);
      expect(peers.b.channels()[0].mode).to.equal(0o644);
    });

    it('lets side b remove a channel that side a created, for both sides', async () => {
      await peers.a.createChannel('one', 0o600, 0, 0, 0);
      await peers.a.createChannel('two', 0o600, 0, 0, 0);
      expect((await peers.b.unlinkChannel('one')).errno).to.equal(0);
      expect(names(peers, 'a')).to.deep.equal(['two']);
      expect(names(peers, 'b')).to.deep.equal(['two']);
    });

    it('refuses a name that is already live, whichever side created it (EEXIST)', async () => {
      await peers.b.createChannel('dup', 0o600, 0, 0, 0);
      expect((await peers.a.createChannel('dup', 0o600, 0, 0, 0)).errno).to.equal(EEXIST);
      expect((await peers.b.createChannel('dup', 0o600, 0, 0, 0)).errno).to.equal(EEXIST);
      expect(peers.a.channels()).to.have.length(1);
    });

    it('answers ENOENT when unlinking a name that does not exist', async () => {
      expect((await peers.a.unlinkChannel('ghost')).errno).to.equal(ENOENT);
    });

    it('refuses a channel when every slot is taken (ENOSPC), and accepts one again after an unlink', async () => {
      for (let i = 0; i < SMALL.capacity; i++) expect((await peers.a.createChannel(`c${i}`, 0o600, 0, 0, 0)).errno).to.equal(0);
      expect((await peers.b.createChannel('one-too-many', 0o600, 0, 0, 0)).errno).to.equal(ENOSPC);
      await peers.a.unlinkChannel('c2');
      expect((await peers.b.createChannel('one-too-many', 0o600, 0, 0, 0)).errno).to.equal(0);
    });

    it('gives a reused slot a new generation', async () => {
      const first = await peers.a.createChannel('x', 0o600, 0, 0, 0);
      await peers.a.unlinkChannel('x');
      const second = await peers.b.createChannel('x', 0o600, 0, 0, 0);
      expect(second.slot).to.equal(first.slot);
      expect(second.generation).to.not.equal(first.generation);
    });
  });

  describe('names', () => {
    const longest = 'n'.repeat(addon.constants.nameMax);

    it(`accepts names of up to ${addon.constants.nameMax} bytes`, async () => {
      expect((await peers.a.createChannel(longest, 0o600, 0, 0, 0)).errno).to.equal(0);
      expect(names(peers, 'b')).to.deep.equal([longest]);
    });

    it('refuses a name of 64 bytes with ENAMETOOLONG, counting bytes and not characters', async () => {
      expect((await peers.a.createChannel(longest + 'n', 0o600, 0, 0, 0)).errno).to.equal(ENAMETOOLONG);
      const accents = 'é'.repeat(32); // 32 characters, 64 bytes of UTF-8
      expect((await peers.a.createChannel(accents, 0o600, 0, 0, 0)).errno).to.equal(ENAMETOOLONG);
      expect(addon.checkName(accents)).to.equal(ENAMETOOLONG);
      expect(addon.checkName('é'.repeat(31) + 'e')).to.equal(0);
      expect(peers.b.channels()).to.deep.equal([]);
    });

    for (const [what, name] of [
      ['an empty name', ''],
      ["a name containing '/'", 'a/b'],
      ['"."', '.'],
      ['".."', '..'],
    ]) {
      it(`refuses ${what} with EINVAL, at create and at unlink`, async () => {
        expect(addon.checkName(name)).to.equal(EINVAL);
        expect((await peers.a.createChannel(name, 0o600, 0, 0, 0)).errno).to.equal(EINVAL);
        expect((await peers.b.unlinkChannel(name)).errno).to.equal(EINVAL);
        expect(peers.b.channels()).to.deep.equal([]);
      });
    }

    it('accepts names that merely look odd ("...", ".x", spaces)', async () => {
      for (const name of ['...', '.x', 'with space']) expect((await peers.a.createChannel(name, 0o600, 0, 0, 0)).errno, name).to.equal(0);
    });
  });

  describe('an unlinked channel still open', () => {
    let slot: number;
    let generation: number;
    let ch: { slot: number; generation: number; name: string };
    let A: EngineSide;
    let B: EngineSide;

    beforeEach(async () => {
      ({ slot, generation } = await peers.a.createChannel('busy', 0o600, 0, 0, 0));
      ch = { slot, generation, name: 'busy' };
      A = new EngineSide(peers.a);
      B = new EngineSide(peers.b);
    });
    afterEach(() => {
      A.stop();
      B.stop();
    });

    const other = () => peers.b.createChannel('other', 0o600, 0, 0, 0);
    const fillOthers = async () => {
      for (let i = 1; i < SMALL.capacity; i++) expect((await peers.b.createChannel(`f${i}`, 0o600, 0, 0, 0)).errno).to.equal(0);
    };
    const entry = () => peers.a.channels().find((x) => x.slot === slot);

    it('disappears by name at once but keeps its slot while descriptors of it are open, and they still carry bytes', async () => {
      await fillOthers();
      const r = A.open(ch, O_RDONLY);
      const w = B.open(ch, O_WRONLY);
      expect((await peers.b.unlinkChannel('busy')).errno).to.equal(0);
      const c = peers.b.channels().find((x) => x.slot === slot);
      expect(c).to.include({ state: 'unlinked', name: 'busy' });
      expect(c?.sideOpen).to.deep.equal([1, 1]);
      expect(new Directory(peers.b, silentLogger).lookup('busy')).to.equal(undefined);
      expect(B.openName('busy', O_WRONLY), 'a new open by its name').to.equal(ENOENT);
      // A new name is not given the held slot.
      expect((await other()).errno).to.equal(ENOSPC);
      // The descriptors still work on it.
      expect(await B.writeAsync(w, Buffer.from('late'))).to.equal(4);
      expect((await A.readAsync(r, 10)).data.toString()).to.equal('late');
    });

    for (const last of ['a', 'b'] as const) {
      it(`frees its slot as soon as the last descriptor of both sides is released (the last one on side ${last}), with no sweep asked for`, async () => {
        await fillOthers();
        const r = A.open(ch, O_RDONLY);
        const w = B.open(ch, O_WRONLY);
        await peers.a.unlinkChannel('busy');
        const [first, second] = last === 'b' ? [() => A.release(r), () => B.release(w)] : [() => B.release(w), () => A.release(r)];

        expect(first()).to.equal(0);
        expect((await other()).errno, 'the other side still holds it').to.equal(ENOSPC);
        expect(entry()?.state).to.equal('unlinked');

        expect(second()).to.equal(0);
        expect(entry(), 'freed by the release itself').to.equal(undefined);
        const r2 = await other();
        expect(r2.errno).to.equal(0);
        expect(r2.slot).to.equal(slot);
      });
    }

    it('keeps its slot while one side holds two descriptors and releases only one', async () => {
      await fillOthers();
      const r1 = A.open(ch, O_RDONLY);
      const r2 = A.open(ch, O_RDONLY);
      await peers.b.unlinkChannel('busy');
      A.release(r1);
      expect(entry()?.sideOpen).to.deep.equal([1, 0]);
      expect((await other()).errno).to.equal(ENOSPC);
      A.release(r2);
      expect(entry()).to.equal(undefined);
      expect((await other()).errno).to.equal(0);
    });

    it('lets a new channel take its name while the old one drains', async () => {
      const old = A.open(ch, O_RDWR);
      await peers.b.unlinkChannel('busy');
      const again = await peers.b.createChannel('busy', 0o600, 0, 0, 0);
      expect(again.errno).to.equal(0);
      expect(again.slot).to.not.equal(slot);
      expect(new Directory(peers.a, silentLogger).lookup('busy')?.slot).to.equal(again.slot);
      // The name opens the new channel; the old descriptor's bytes stay in the old one.
      expect(await A.writeAsync(old, Buffer.from('old'))).to.equal(3);
      const r = B.openName('busy', O_RDONLY);
      const w = A.openName('busy', O_WRONLY);
      expect(await A.writeAsync(w, Buffer.from('new'))).to.equal(3);
      expect((await B.readAsync(r, 10)).data.toString()).to.equal('new');
    });

    it('is freed by the detach of the last side holding it', async () => {
      B.open(ch, O_RDONLY);
      await peers.a.unlinkChannel('busy');
      expect(peers.a.channels()).to.have.length(1);
      peers.b.detach(); // the daemon of side b stops: its descriptors are gone
      expect(peers.a.channels()).to.deep.equal([]);
    });
  });

  describe('entries scribbled in shared memory', () => {
    let slot: number;
    beforeEach(async () => {
      await peers.a.createChannel('fine', 0o600, 0, 0, 0);
      ({ slot } = await peers.a.createChannel('victim', 0o600, 0, 0, 0));
    });
    const nameAt = (text: Buffer) => pwrite(control, entryOffset(slot) + L.entryName, text);

    it('lists a name without a terminator as corrupt, on both sides, without crashing', () => {
      nameAt(Buffer.alloc(addon.constants.nameMax + 1, 'z'.charCodeAt(0)));
      for (const side of ['a', 'b'] as const) {
        const list = peers[side].channels();
        const bad = list.find((c) => c.slot === slot);
        expect(bad?.corrupt, side).to.equal(true);
        expect(bad?.why).to.match(/terminator/);
        expect(bad?.name).to.equal('');
        expect(list.find((c) => c.name === 'fine')?.corrupt).to.equal(false);
      }
    });

    it("lists a name holding '/' as corrupt", () => {
      nameAt(Buffer.from('../../etc\0'));
      const bad = peers.b.channels().find((c) => c.slot === slot);
      expect(bad?.corrupt).to.equal(true);
      expect(bad?.why).to.match(/'\/'/);
    });

    it('lists an impossible state as corrupt', () => {
      writeU32(control, entryOffset(slot) + L.entryState, 7);
      const bad = peers.b.channels().find((c) => c.slot === slot);
      expect(bad).to.include({ corrupt: true, state: 'corrupt' });
      expect(bad?.why).to.match(/state 7/);
    });

    it('hides corrupt entries from the mounted directory and keeps the others', () => {
      nameAt(Buffer.from('a/b\0'));
      const dir = new Directory(peers.a, silentLogger);
      expect(dir.list().map((c) => c.name)).to.deep.equal(['fine']);
    });

    it('still creates and unlinks other channels around a corrupt entry', async () => {
      nameAt(Buffer.alloc(addon.constants.nameMax + 1, 'z'.charCodeAt(0)));
      expect((await peers.b.createChannel('z'.repeat(addon.constants.nameMax), 0o600, 0, 0, 0)).errno).to.equal(0);
      expect((await peers.b.unlinkChannel('fine')).errno).to.equal(0);
    });
  });

  describe('cross-peer lock', function () {
    this.timeout(10_000);
    const lockWord = () => readU64(control, L.tableLock);
    const setLock = (v: bigint) => writeU64(control, L.tableLock, v);
    /** Time a create from side a takes, and its result. */
    const timedCreate = async (name = 'after-recovery') => {
      const t0 = Date.now();
      const r = await peers.a.createChannel(name, 0o600, 0, 0, 0);
      return { errno: r.errno, ms: Date.now() - t0 };
    };

    it('is free again after every operation, a release that frees an unlinked channel included', async () => {
      const x = await peers.a.createChannel('x', 0o600, 0, 0, 0);
      expect(lockWord()).to.equal(0n);
      const A = new EngineSide(peers.a);
      const fd = A.open({ ...x, name: 'x' }, O_RDONLY);
      await peers.b.unlinkChannel('x');
      expect(lockWord()).to.equal(0n);
      expect(peers.a.channels()).to.have.length(1);
      A.release(fd); // the last descriptor: the release sweeps the table
      expect(peers.a.channels()).to.deep.equal([]);
      expect(lockWord()).to.equal(0n);
    });

    it('is recovered at once from an earlier mount of the peer (its epoch moved on)', async () => {
      setLock(lockOwner(SIDE_B, peers.epochB)); // side b dies holding the lock...
      const remount = s.open(paths);
      const epoch = remount.attach(SIDE_B, 'poll', process.pid, 'unit-b2', Date.now()); // ...and mounts again
      expect(epoch).to.equal(peers.epochB + 1);
      const r = await timedCreate();
      expect(r.errno).to.equal(0);
      expect(r.ms).to.be.below(1000);
      expect(lockWord()).to.equal(0n);
    });

    it('is recovered at once from an earlier mount of its own side', async () => {
      setLock(lockOwner(SIDE_A, peers.epochA - 1));
      const r = await timedCreate();
      expect(r).to.include({ errno: 0 });
      expect(r.ms).to.be.below(1000);
    });

    it('is recovered at once from a peer that detached', async () => {
      peers.b.detach();
      setLock(lockOwner(SIDE_B, peers.epochB));
      const r = await timedCreate();
      expect(r).to.include({ errno: 0 });
      expect(r.ms).to.be.below(1000);
    });

    it('is recovered at once from garbage in the lock word', async () => {
      for (const garbage of [0xdeadbeef00n, 0xffn, (1n << 64n) - 1n]) {
        setLock(garbage);
        const r = await timedCreate(`g${garbage.toString(16)}`);
        expect(r.errno, garbage.toString(16)).to.equal(0);
        expect(r.ms).to.be.below(1000);
        expect(lockWord()).to.equal(0n);
      }
    });

    it('is recovered within a few seconds from a peer whose heartbeat stopped, not at once', async () => {
      setLock(lockOwner(SIDE_B, peers.epochB)); // attached, current epoch, but frozen
      const r = await timedCreate();
      expect(r.errno).to.equal(0);
      expect(r.ms).to.be.within(1500, 4500);
      expect(lockWord()).to.equal(0n);
      expect(names(peers, 'b')).to.deep.equal(['after-recovery']);
    });

    it('is not taken from a live peer whose heartbeat moves: the create gives up with EBUSY', async () => {
      const held = lockOwner(SIDE_B, peers.epochB);
      setLock(held);
      s.every(100, () => peers.b.heartbeat());
      const r = await timedCreate();
      expect(r.errno).to.equal(EBUSY);
      expect(r.ms).to.be.at.least(4000);
      expect(lockWord()).to.equal(held);
      expect(peers.b.channels()).to.deep.equal([]);
    });

    it('lets a waiting create through as soon as the live holder lets go', async () => {
      setLock(lockOwner(SIDE_B, peers.epochB));
      s.every(100, () => peers.b.heartbeat());
      setTimeout(() => setLock(0n), 300);
      const r = await timedCreate();
      expect(r.errno).to.equal(0);
      expect(r.ms).to.be.within(250, 1500);
    });

    it('serialises creates racing from both sides: one name, one winner', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? peers.a : peers.b).createChannel('contested', 0o600, 0, 0, 0)),
      );
      expect(results.filter((r) => r.errno === 0)).to.have.length(1);
      expect(results.filter((r) => r.errno === EEXIST)).to.have.length(7);
      expect(names(peers, 'a')).to.deep.equal(['contested']);
    });
  });
});
