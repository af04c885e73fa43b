// The registry of an area region (native/area_registry.h) through the addon:
// what a peer attaching to an area, and every other peer of the region,
// relies on. Areas are placed apart inside the region; pairs are carved one
// per two attached peers, side a being the name that sorts first; a refusal
// changes no byte of the registry; a pair outlives a remount of its peers
// and is reclaimed only when both are gone; a dead lock holder and a dead
// name holder are taken over; a scribbled entry is reported corrupt and never
// used, while the other areas go on working. Raw bytes are written at the
// offsets of addon.layout, as a hostile peer would.
import { expect } from 'chai';
import { addon, AreaAttachRequest, AreaInfo, AreaRegistry, Memsections } from '../../src/native';
import { L, pread, pwrite, readU64, SIDE_A, thrown, useScratch, writeU32, writeU64 } from './helpers';

const C = addon.constants;
const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;
/** An area of 1 MiB in pairs of 128 KiB (8 pair slots) of 4 channels. */
const AREA = { areaSize: 1 * MiB, pairSize: 128 * KiB, channels: 4 };

function entryAt(index: number): number {
  return L.areaTableOffset + index * L.areaEntrySize;
}

function request(id: number, peer: string, extra: Partial<AreaAttachRequest> = {}): AreaAttachRequest {
  return { id, peer, host: 'unit-host', pid: process.pid, nowMs: Date.now(), ...extra };
}

function pairNames(a: AreaInfo): string[] {
  return a.pairs.map((q) => q.names.join('+')).sort();
}

describe('area registry', () => {
  // Unmapped before useScratch's hook removes the temporary folders.
  const registries: AreaRegistry[] = [];
  const sets: Memsections[] = [];
  afterEach(() => {
    for (const r of registries.splice(0)) r.close();
    for (const ms of sets.splice(0)) ms.close();
  });
  const s = useScratch();

  /** A region of the registry plus `bytes`, zero-filled (unformatted), in os.tmpdir(). */
  const blank = (bytes: number) => s.region(C.registrySize + bytes);
  /** A formatted area region and its registry. */
  function formatted(bytes = 8 * MiB): { file: string; reg: AreaRegistry } {
    const file = blank(bytes);
    addon.AreaRegistry.format(file, false);
    return { file, reg: open(file) };
  }
  function open(file: string): AreaRegistry {
    const r = new addon.AreaRegistry(file);
    registries.push(r);
    return r;
  }
  /** The pair's memsection set, as the two peers' mounts map it. */
  function pairSet(file: string, regionOffset: number, pairSize: number): Memsections {
    const ms = new addon.Memsections([file], regionOffset, pairSize);
    sets.push(ms);
    return ms;
  }
  const registryBytes = (file: string) => pread(file, 0, C.registrySize);

  /** `fn` must be refused with `code`, leaving every byte of the registry as it was. */
  function refusedUnchanged(file: string, reg: AreaRegistry, code: string, fn: () => unknown): Error & { code?: string } {
    const version = reg.version();
    const areas = reg.areas();
    const bytes = registryBytes(file);
    const err = thrown(fn);
    expect(err.code, err.message).to.equal(code);
    expect(reg.version()).to.equal(version);
    expect(reg.areas()).to.deep.equal(areas);
    expect(registryBytes(file).equals(bytes), 'registry bytes unchanged').to.equal(true);
    return err;
  }

  describe('format and open', () => {
    it('refuses a region smaller than the registry plus a page, and formats one of exactly that', () => {
      const small = s.region(C.registrySize + PAGE - 1);
      const err = thrown(() => addon.AreaRegistry.format(small, false));
      expect(err.code).to.equal('EIVFS_too-small');
      expect(err.message).to.include(small);
      expect(addon.AreaRegistry.isAreaRegion(small)).to.equal(false);

      const least = s.region(C.registrySize + PAGE);
      addon.AreaRegistry.format(least, false);
      expect(addon.AreaRegistry.isAreaRegion(least)).to.equal(true);
      const reg = open(least);
      expect(reg.regionSize()).to.equal(C.registrySize + PAGE);
      expect(reg.areas()).to.deep.equal([]);
    });

    it('refuses an already formatted region without force and keeps its areas; force erases them', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const err = thrown(() => addon.AreaRegistry.format(file, false));
      expect(err.code).to.equal('EIVFS_formatted');
      expect(err.message).to.include('--force');
      expect(reg.areas().map((a) => a.id)).to.deep.equal([1]);

      addon.AreaRegistry.format(file, true);
      expect(open(file).areas()).to.deep.equal([]);
    });

    it('refuses to format over a two-sided set without force', () => {
      const file = blank(1 * MiB);
      addon.format([file], 4, false);
      expect(thrown(() => addon.AreaRegistry.format(file, false)).code).to.equal('EIVFS_formatted');
    });

    it('opening an unformatted file says to format it with --areas', () => {
      const file = blank(1 * MiB);
      const err = thrown(() => new addon.AreaRegistry(file));
      expect(err.code).to.equal('EIVFS_unformatted');
      expect(err.message).to.include(file);
      expect(err.message).to.include('format --areas');
    });

    it('opening a two-sided set says it holds no area registry', () => {
      const file = blank(1 * MiB);
      addon.format([file], 4, false);
      const err = thrown(() => new addon.AreaRegistry(file));
      expect(err.code).to.equal('EIVFS_not-areas');
      expect(err.message).to.include(file);
      expect(err.message).to.include('--areas');
    });

    it('opening a region whose header checksum was scribbled reports it corrupt', () => {
      const file = blank(1 * MiB);
      addon.AreaRegistry.format(file, false);
      const check = readU64(file, L.registryHeaderCheck);
      writeU64(file, L.registryHeaderCheck, check ^ 1n);
      const err = thrown(() => new addon.AreaRegistry(file));
      expect(err.code).to.equal('EIVFS_corrupt');
      expect(err.message).to.include('checksum');
    });
  });

  describe('attach', () => {
    it('the first attach creates the area with that peer as its owner; the next ones join it', () => {
      const { reg } = formatted();
      const first = reg.attach(request(7, 'alpha', AREA));
      expect(first.created).to.equal(true);
      const a = first.area;
      expect(a).to.include({ id: 7, owner: 'alpha', size: AREA.areaSize, pairSize: AREA.pairSize, channels: 4, pairSlots: 8, corrupt: false });
      expect(a.peers.map((p) => [p.name, p.slot, p.epoch, p.host, p.pid])).to.deep.equal([['alpha', first.peerSlot, first.epoch, 'unit-host', process.pid]]);
      expect(a.pairs).to.deep.equal([]);

      const second = reg.attach(request(7, 'beta'));  // no size: the area exists
      expect(second.created).to.equal(false);
      expect(second.area.owner).to.equal('alpha');
      expect(second.peerSlot).to.not.equal(first.peerSlot);
      expect(reg.areas()).to.have.length(1);
    });

    it('places areas after the registry, page aligned, without overlapping, also in a gap left by a removal', () => {
      const { reg } = formatted();
      reg.attach(request(1, 'alpha', { ...AREA, areaSize: 1 * MiB }));
      reg.attach(request(2, 'alpha', { ...AREA, areaSize: 640 * KiB + 100 }));  // rounded up to a page
      reg.attach(request(3, 'alpha', { ...AREA, areaSize: 2 * MiB }));
      reg.remove(2, reg.version());
      reg.attach(request(4, 'alpha', { ...AREA, areaSize: 512 * KiB }));
      reg.attach(request(5, 'alpha', { ...AREA, areaSize: 3 * MiB }));

      const areas = reg.areas();
      expect(areas.map((a) => a.id).sort()).to.deep.equal([1, 3, 4, 5]);
      for (const a of areas) {
        expect(a.corrupt).to.equal(false);
        expect(a.offset).to.be.at.least(C.registrySize);
        expect(a.offset % PAGE, `area ${a.id} offset`).to.equal(0);
        expect(a.size % PAGE, `area ${a.id} size`).to.equal(0);
        expect(a.offset + a.size).to.be.at.most(reg.regionSize());
        for (const b of areas) {
          if (b === a) continue;
          const apart = a.offset + a.size <= b.offset || b.offset + b.size <= a.offset;
          expect(apart, `areas ${a.id} and ${b.id} overlap`).to.equal(true);
        }
      }
    });

    it('a second peer carves exactly one pair, side a being the name that sorts first, and its set opens', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'mike', AREA));
      const r = reg.attach(request(1, 'bravo'));
      expect(r.area.pairs).to.have.length(1);
      const [q] = r.area.pairs;
      expect(q.names).to.deep.equal(['bravo', 'mike']);
      expect(q.regionOffset).to.be.at.least(r.area.offset);
      expect(q.regionOffset + r.area.pairSize).to.be.at.most(r.area.offset + r.area.size);

      const set = pairSet(file, q.regionOffset, r.area.pairSize);
      expect(set.geometry().capacity).to.equal(AREA.channels);
      expect(set.channels()).to.deep.equal([]);
    });

    it('a third peer carves two more pairs; every pair has its own slot inside the area', () => {
      const { reg } = formatted();
      reg.attach(request(1, 'mike', AREA));
      reg.attach(request(1, 'bravo'));
      const r = reg.attach(request(1, 'zulu'));
      const a = r.area;
      expect(pairNames(a)).to.deep.equal(['bravo+mike', 'bravo+zulu', 'mike+zulu']);
      const offsets = a.pairs.map((q) => q.regionOffset);
      expect(new Set(offsets).size).to.equal(3);
      for (const o of offsets) {
        expect(o).to.be.at.least(a.offset);
        expect(o + a.pairSize).to.be.at.most(a.offset + a.size);
        expect((o - a.offset) % a.pairSize, 'pairs do not overlap').to.equal(0);
      }
      expect(reg.areas()).to.deep.equal([a]);
    });
  });

  describe('refusals change nothing', () => {
    it('a size that differs from the area\'s, naming both sizes', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const err = refusedUnchanged(file, reg, 'EIVFS_size-mismatch', () => reg.attach(request(1, 'beta', { areaSize: 2 * MiB })));
      expect(err.message).to.include('1 MiB');
      expect(err.message).to.include('2 MiB');
      expect(err.message).to.include('alpha');
      const pair = refusedUnchanged(file, reg, 'EIVFS_size-mismatch', () => reg.attach(request(1, 'beta', { pairSize: 256 * KiB })));
      expect(pair.message).to.include('128 KiB');
      expect(pair.message).to.include('256 KiB');
      refusedUnchanged(file, reg, 'EIVFS_size-mismatch', () => reg.attach(request(1, 'beta', { channels: 8 })));
    });

    it('an unknown area ID without a size', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const err = refusedUnchanged(file, reg, 'EIVFS_no-area', () => reg.attach(request(2, 'alpha')));
      expect(err.message).to.include('area 2');
      expect(err.message).to.include('--area-size');
    });

    it('area IDs 0 and 65536', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      for (const id of [0, C.areaIdMax + 1]) {
        const err = refusedUnchanged(file, reg, 'EIVFS_range', () => reg.attach(request(id, 'beta', AREA)));
        expect(err.message).to.include(`1 to ${C.areaIdMax}`);
      }
      expect(reg.attach(request(C.areaIdMax, 'beta', AREA)).created).to.equal(true);
    });

    it('peer names that are empty, start with a dot, hold a slash or are 32 bytes long', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      for (const name of ['', '.x', 'a/b', 'x'.repeat(C.peerNameMax + 1)]) {
        const err = refusedUnchanged(file, reg, 'EIVFS_usage', () => reg.attach(request(1, name)));
        expect(err.message, JSON.stringify(name)).to.include(`'${name}'`);
      }
      const longest = 'y'.repeat(C.peerNameMax);
      expect(reg.attach(request(1, longest)).area.peers.map((p) => p.name)).to.include(longest);
    });

    it('a name attached already, without takeOverHeartbeat or with a heartbeat it does not show', () => {
      const { file, reg } = formatted();
      const a = reg.attach(request(1, 'alpha', AREA));
      reg.heartbeat(a.area.index, a.peerSlot, a.epoch);
      const err = refusedUnchanged(file, reg, 'EIVFS_name-taken', () => reg.attach(request(1, 'alpha')));
      expect(err.message).to.include(`pid ${process.pid}`);
      expect(err.message).to.include('unit-host');
      refusedUnchanged(file, reg, 'EIVFS_name-taken', () => reg.attach(request(1, 'alpha', { takeOverHeartbeat: 0 })));
      refusedUnchanged(file, reg, 'EIVFS_name-taken', () => reg.attach(request(1, 'alpha', { takeOverHeartbeat: 2 })));
    });

    it('a 17th peer of a full area', () => {
      const { file, reg } = formatted(4 * MiB);
      // 16 peers need 120 pairs: the smallest pairs (one channel, 24 KiB).
      const small = { areaSize: 120 * 24 * KiB, pairSize: 24 * KiB, channels: 1 };
      for (let i = 0; i < C.areaPeersMax; i++) reg.attach(request(1, `p${String(i).padStart(2, '0')}`, small));
      const [a] = reg.areas();
      expect(a.peers).to.have.length(16);
      expect(a.pairs).to.have.length(120);
      const err = refusedUnchanged(file, reg, 'EIVFS_full', () => reg.attach(request(1, 'late')));
      expect(err.message).to.include('16 peers');
    });

    it('an area the region has no room for, naming the largest free stretch', () => {
      const { file, reg } = formatted(2 * MiB);
      reg.attach(request(1, 'alpha', { ...AREA, areaSize: 1536 * KiB }));
      const err = refusedUnchanged(file, reg, 'EIVFS_no-space', () => reg.attach(request(2, 'alpha', { ...AREA, areaSize: 1 * MiB })));
      expect(err.message).to.include('1 MiB');
      expect(err.message).to.include('512 KiB');
      expect(reg.attach(request(2, 'alpha', { ...AREA, areaSize: 512 * KiB })).created).to.equal(true);
    });

    it('a 33rd area of a region whose registry holds 32', () => {
      const { file, reg } = formatted(1 * MiB);
      const tiny = { areaSize: 24 * KiB, pairSize: 24 * KiB, channels: 1 };
      for (let id = 1; id <= C.areaCapacity; id++) reg.attach(request(id, 'alpha', tiny));
      const err = refusedUnchanged(file, reg, 'EIVFS_no-space', () => reg.attach(request(C.areaCapacity + 1, 'alpha', tiny)));
      expect(err.message).to.include(`${C.areaCapacity} areas`);
    });

    it('a peer whose pairs do not fit in the pair slots left', () => {
      const { file, reg } = formatted();
      const two = { areaSize: 1 * MiB, pairSize: 512 * KiB, channels: 4 };  // 2 pair slots
      reg.attach(request(1, 'alpha', two));
      reg.attach(request(1, 'beta'));
      const err = refusedUnchanged(file, reg, 'EIVFS_no-space', () => reg.attach(request(1, 'gamma')));  // needs 2 more
      expect(err.message).to.include('pair slots');
      expect(reg.areas()[0].peers.map((p) => p.name)).to.deep.equal(['alpha', 'beta']);
    });
  });

  describe('detach and re-attach', () => {
    it('detach frees the mapping; a late detach of an older mount leaves the newer one attached', () => {
      const { reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const b = reg.attach(request(1, 'beta'));
      const v = reg.version();
      reg.detach(b.area.index, b.peerSlot, b.epoch);
      expect(reg.version()).to.be.above(v);
      const [a] = reg.areas();
      expect(a.peers.map((p) => p.name)).to.deep.equal(['alpha']);
      expect(pairNames(a)).to.deep.equal(['alpha+beta']);  // the pair stays carved

      const again = reg.attach(request(1, 'beta'));
      reg.detach(b.area.index, b.peerSlot, b.epoch);  // the first mount's epoch
      expect(reg.areas()[0].peers.map((p) => p.name)).to.deep.equal(['alpha', 'beta']);
      reg.detach(again.area.index, again.peerSlot, again.epoch);
      expect(reg.areas()[0].peers.map((p) => p.name)).to.deep.equal(['alpha']);
    });

    it('a re-attach of a name after detach keeps its pair (same slot, same generation) and the channels in it', async () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const b = reg.attach(request(1, 'beta'));
      const [pair] = b.area.pairs;

      const set = pairSet(file, pair.regionOffset, b.area.pairSize);
      set.attach(SIDE_A, 'poll', process.pid, 'unit', Date.now());
      expect((await set.createChannel('keep', 0o600, 0, 0, Date.now())).errno).to.equal(0);
      set.detach();

      reg.detach(b.area.index, b.peerSlot, b.epoch);
      const again = reg.attach(request(1, 'beta'));
      expect(again.epoch).to.not.equal(b.epoch);
      expect(again.area.pairs).to.deep.equal([pair]);
      expect(pairSet(file, pair.regionOffset, b.area.pairSize).channels().map((c) => c.name)).to.deep.equal(['keep']);
    });

    it('reclaims a pair slot whose two peers are both detached when the area has no other, as a fresh set', async () => {
      const { file, reg } = formatted();
      const one = { areaSize: 512 * KiB, pairSize: 512 * KiB, channels: 4 };  // a single pair slot
      const a = reg.attach(request(1, 'alpha', one));
      const b = reg.attach(request(1, 'beta'));
      const [old] = b.area.pairs;
      const set = pairSet(file, old.regionOffset, one.pairSize);
      set.attach(SIDE_A, 'poll', process.pid, 'unit', Date.now());
      expect((await set.createChannel('old', 0o600, 0, 0, Date.now())).errno).to.equal(0);
      set.detach();

      // While beta is attached, its pair with alpha is not anybody's to take.
      reg.detach(a.area.index, a.peerSlot, a.epoch);
      refusedUnchanged(file, reg, 'EIVFS_no-space', () => reg.attach(request(1, 'charlie')));
      reg.detach(b.area.index, b.peerSlot, b.epoch);
      reg.attach(request(1, 'charlie'));
      const d = reg.attach(request(1, 'delta'));
      expect(d.area.pairs).to.have.length(1);
      const [fresh] = d.area.pairs;
      expect(fresh.names).to.deep.equal(['charlie', 'delta']);
      expect(fresh.slot).to.equal(old.slot);
      expect(fresh.generation).to.be.above(old.generation);
      expect(pairSet(file, fresh.regionOffset, one.pairSize).channels()).to.deep.equal([]);
    });
  });

  describe('heartbeat', () => {
    it('bumps the mapping\'s heartbeat, and answers false once another attach took the name over', () => {
      const { reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      const b = reg.attach(request(1, 'beta'));
      const beat = () => reg.areas()[0].peers.find((p) => p.name === 'beta')!.heartbeat;
      expect(beat()).to.equal(0);
      expect(reg.heartbeat(b.area.index, b.peerSlot, b.epoch)).to.equal(true);
      expect(reg.heartbeat(b.area.index, b.peerSlot, b.epoch)).to.equal(true);
      expect(beat()).to.equal(2);

      // beta's holder stopped beating: a new mount takes the name with the heartbeat it saw.
      const taken = reg.attach(request(1, 'beta', { takeOverHeartbeat: 2, pid: process.pid + 1 }));
      expect(taken.peerSlot).to.equal(b.peerSlot);
      expect(taken.epoch).to.not.equal(b.epoch);
      expect(taken.area.pairs).to.have.length(1);
      expect(reg.heartbeat(b.area.index, b.peerSlot, b.epoch)).to.equal(false);
      reg.detach(b.area.index, b.peerSlot, b.epoch);  // the old holder's end touches nothing
      expect(reg.areas()[0].peers.find((p) => p.name === 'beta')!.pid).to.equal(process.pid + 1);
      expect(reg.heartbeat(taken.area.index, taken.peerSlot, taken.epoch)).to.equal(true);
      expect(beat()).to.equal(1);
    });
  });

  describe('the registry lock', () => {
    it('is taken over from a holder that died holding it, and released after the attach', function () {
      this.timeout(15_000);  // the lock counts as stale after 2 s
      const { file, reg } = formatted();
      writeU64(file, L.registryLock, 0x5a5a5a5a5a5a5a5an);
      const r = reg.attach(request(1, 'alpha', AREA));
      expect(r.created).to.equal(true);
      expect(readU64(file, L.registryLock)).to.equal(0n);
      expect(reg.areas().map((a) => a.id)).to.deep.equal([1]);
    });
  });

  describe('a hostile scribble on an area entry', () => {
    const scribbles: { what: string; scribble: (file: string, regionSize: number, area: AreaInfo) => void }[] = [
      { what: 'an offset past the region', scribble: (file, regionSize) => writeU64(file, entryAt(0) + L.areaOffset, BigInt(regionSize + 16 * PAGE)) },
      { what: 'a size running past the region', scribble: (file, regionSize) => writeU64(file, entryAt(0) + L.areaSize, BigInt(regionSize)) },
      { what: 'a pair state 7', scribble: (file) => writeU32(file, entryAt(0) + L.areaPairs + 0 * L.pairSlotSize + L.pairState, 7) },
      {
        what: 'a carved pair slot past the area\'s pair slots',
        scribble: (file, _size, area) => {
          const slot = area.pairSlots;  // 8: one past the last
          const at = entryAt(0) + L.areaPairs + slot * L.pairSlotSize;
          pwrite(file, at + L.pairNames, Buffer.concat([Buffer.from('alpha'), Buffer.alloc(27), Buffer.from('beta'), Buffer.alloc(28)]));
          writeU32(file, at + L.pairState, 1);
        },
      },
      { what: 'a peer name without NUL', scribble: (file) => pwrite(file, entryAt(0) + L.areaPeers + 0 * L.peerMappingSize + L.peerName, Buffer.alloc(32, 'a')) },
      { what: 'a pair size of 0', scribble: (file) => writeU64(file, entryAt(0) + L.areaPairSize, 0n) },
    ];

    for (const { what, scribble } of scribbles) {
      it(`(${what}) is reported corrupt, never with a pair outside the region; attaching to it is refused, the other area works`, () => {
        const { file, reg } = formatted();
        reg.attach(request(1, 'alpha', AREA));
        const first = reg.attach(request(1, 'beta'));
        reg.attach(request(2, 'alpha', AREA));
        reg.attach(request(2, 'beta'));
        expect(first.area.index).to.equal(0);

        scribble(file, reg.regionSize(), first.area);
        const areas = reg.areas();
        const bad = areas.find((a) => a.id === 1)!;
        expect(bad.corrupt).to.equal(true);
        expect(bad.why).to.be.a('string').and.not.equal('');
        for (const a of areas) {
          for (const q of a.pairs) {
            expect(q.regionOffset).to.be.at.least(C.registrySize);
            expect(q.regionOffset + a.pairSize).to.be.at.most(reg.regionSize());
          }
        }

        const err = refusedUnchanged(file, reg, 'EIVFS_corrupt', () => reg.attach(request(1, 'charlie')));
        expect(err.message).to.include('area 1');
        expect(err.message).to.include(bad.why!);
        expect(err.message).to.include('area rm');

        const ok = reg.attach(request(2, 'charlie'));
        expect(ok.area.corrupt).to.equal(false);
        expect(pairNames(ok.area)).to.deep.equal(['alpha+beta', 'alpha+charlie', 'beta+charlie']);
        // A new area is placed clear of the other, sound one.
        const other = ok.area;
        const made = reg.attach(request(3, 'charlie', AREA)).area;
        expect(made.offset + made.size <= other.offset || other.offset + other.size <= made.offset).to.equal(true);
      });
    }

    it('(a size that is no page multiple) leaves a new area page-aligned and clear of the corrupt one, its pair set opening', () => {
      const { file, reg } = formatted();
      const first = reg.attach(request(1, 'alpha', AREA)).area;
      writeU64(file, entryAt(0) + L.areaSize, BigInt(AREA.areaSize + 5));
      const bad = reg.areas()[0];
      expect(bad.corrupt).to.equal(true);

      const made = reg.attach(request(2, 'alpha', AREA)).area;
      expect(made.corrupt, made.why).to.equal(false);
      expect(made.offset % PAGE).to.equal(0);
      expect(made.offset).to.be.at.least(first.offset + AREA.areaSize + 5);
      const joined = reg.attach(request(2, 'beta')).area;
      expect(joined.pairs).to.have.length(1);
      expect(pairSet(file, joined.pairs[0].regionOffset, joined.pairSize).geometry().capacity).to.equal(AREA.channels);
    });

    it('can be removed, and its ID created anew', () => {
      const { file, reg } = formatted();
      reg.attach(request(1, 'alpha', AREA));
      writeU32(file, entryAt(0) + L.areaPairs + L.pairState, 7);
      expect(reg.areas()[0].corrupt).to.equal(true);
      reg.remove(1, reg.version());
      expect(reg.areas()).to.deep.equal([]);
      const r = reg.attach(request(1, 'alpha', AREA));
      expect(r.created).to.equal(true);
      expect(r.area.corrupt).to.equal(false);
    });
  });
});
