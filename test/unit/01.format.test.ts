// Formatting a memsection set and the checks a mount makes before it trusts
// one: what the user sees (error code, message naming the memsection at
// fault) for every way a set can be unusable.
import fs from 'fs';
import path from 'path';
import { expect } from 'chai';
import { addon } from '../../src/native';
import { UserError } from '../../src/errors';
import { formatMemsections } from '../../src/memsections/format';
import { locateMemsections, MemsectionSpec } from '../../src/memsections/locate';
import { openMemsections } from '../../src/memsections/open';
import { EngineSide, O_NONBLOCK, O_RDWR } from './engine-side';
import { L, pread, pwrite, rejected, SIDE_A, SIDE_B, SMALL, thrown, useScratch, writeU32 } from './helpers';

const folderSpec = (dir: string): MemsectionSpec => locateMemsections(dir, { forFormat: true });
const smallOpts = { channels: SMALL.capacity, dataSize: SMALL.dataSize, force: false };

describe('format', () => {
  const s = useScratch();

  describe('a folder set', () => {
    it('creates control, data0 and data1 readable and writable by their owner only (0600)', async () => {
      const dir = path.join(s.tempDir(), 'set');
      await formatMemsections(folderSpec(dir), smallOpts);
      for (const f of ['control', 'data0', 'data1']) {
        expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).to.equal(0o600);
      }
    });

    it('tightens existing memsection files that were more open to 0600', async () => {
      const dir = s.tempDir();
      for (const f of ['control', 'data0', 'data1']) fs.writeFileSync(path.join(dir, f), '', { mode: 0o666 });
      fs.chmodSync(path.join(dir, 'data1'), 0o666);
      await formatMemsections(folderSpec(dir), smallOpts);
      for (const f of ['control', 'data0', 'data1']) {
        expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).to.equal(0o600);
      }
    });

    it('gives files of the planned sizes and a geometry that a mount reads back', async () => {
      const dir = s.tempDir();
      const g = await formatMemsections(folderSpec(dir), smallOpts);
      expect(g.capacity).to.equal(SMALL.capacity);
      expect(g.ringSize).to.equal(addon.constants.minRingSize);
      expect(fs.statSync(path.join(dir, 'control')).size).to.equal(g.controlSize);
      expect(fs.statSync(path.join(dir, 'data0')).size).to.equal(g.dataSize);
      expect(fs.statSync(path.join(dir, 'data1')).size).to.equal(g.dataSize);
      const ms = s.open(folderSpec(dir).paths);
      expect(ms.geometry()).to.deep.equal(g);
      expect(ms.channels()).to.deep.equal([]);
    });

    it('refuses to reformat a formatted set without --force, and leaves its channels alone', async () => {
      const dir = s.tempDir();
      const spec = folderSpec(dir);
      await formatMemsections(spec, smallOpts);
      const ms = s.open(spec.paths);
      ms.attach(SIDE_A, 'poll', process.pid, 'unit', Date.now());
      expect((await ms.createChannel('keep', 0o600, 0, 0, Date.now())).errno).to.equal(0);
      ms.detach();

      const err = await rejected(formatMemsections(spec, smallOpts));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.include('--force');
      expect(err.message).to.include(dir);
      expect(ms.channels().map((c) => c.name)).to.deep.equal(['keep']);
    });

    it('reformats with --force: the old channels are gone', async () => {
      const dir = s.tempDir();
      const spec = folderSpec(dir);
      await formatMemsections(spec, smallOpts);
      const before = s.open(spec.paths);
      before.attach(SIDE_A, 'poll', process.pid, 'unit', Date.now());
      await before.createChannel('old', 0o600, 0, 0, Date.now());
      before.detach();

      await formatMemsections(spec, { ...smallOpts, force: true });
      expect(s.open(spec.paths).channels()).to.deep.equal([]);
    });

    it('refuses even with --force while a live daemon serves a side (its heartbeat moves)', async () => {
      const dir = s.tempDir();
      const spec = folderSpec(dir);
      await formatMemsections(spec, smallOpts);
      const ms = s.open(spec.paths);
      ms.attach(SIDE_B, 'poll', process.pid, 'unit', Date.now());
      s.every(50, () => ms.heartbeat());
      const err = await rejected(formatMemsections(spec, { ...smallOpts, force: true }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.match(/in use by side b/);
    });

    it('refuses a channel count out of range before creating anything', async () => {
      const root = s.tempDir();
      for (const channels of [0, addon.constants.maxChannels + 1]) {
        const dir = path.join(root, `set-${channels}`);
        const err = await rejected(formatMemsections(folderSpec(dir), { ...smallOpts, channels }));
        expect(err).to.be.instanceOf(UserError);
        expect(err.message).to.include(`between 1 and ${addon.constants.maxChannels}`);
        expect(fs.existsSync(dir), 'folder created').to.equal(false);
      }
    });

    it('refuses data memsections too small for a ring of 8 KiB per channel, saying what is needed', async () => {
      const dir = s.tempDir();
      const err = await rejected(formatMemsections(folderSpec(dir), { ...smallOpts, dataSize: SMALL.dataSize - 1 }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.include(`at least ${addon.constants.minRingSize}`);
    });
  });

  describe('planning', () => {
    it('accepts 1 and maxChannels channels, and refuses 0 and maxChannels + 1 with EIVFS_range', () => {
      const min = addon.constants.minRingSize;
      expect(addon.planFiles(1, min).ringSize).to.equal(min);
      expect(addon.planFiles(addon.constants.maxChannels, addon.constants.maxChannels * min).capacity).to.equal(addon.constants.maxChannels);
      expect(thrown(() => addon.planFiles(0, min)).code).to.equal('EIVFS_range');
      expect(thrown(() => addon.planFiles(addon.constants.maxChannels + 1, 1 << 30)).code).to.equal('EIVFS_range');
      expect(thrown(() => addon.planRegion(0, 1 << 20)).code).to.equal('EIVFS_range');
    });

    it('refuses sizes that leave a ring smaller than the minimum with EIVFS_too-small', () => {
      const min = addon.constants.minRingSize;
      expect(thrown(() => addon.planFiles(4, 4 * min - 1)).code).to.equal('EIVFS_too-small');
      const g = addon.planRegion(2, 1 << 20);
      expect(thrown(() => addon.planRegion(2, g.controlSize + 2 * 2 * min - 1)).code).to.equal('EIVFS_too-small');
    });

    it('rounds rings down to whole pages', () => {
      const g = addon.planFiles(3, 100_000);
      expect(g.ringSize % 4096).to.equal(0);
      expect(g.ringSize * 3).to.be.at.most(100_000);
    });
  });

  describe('a single-region set', () => {
    it('is carved into control, data0 and data1 by the offsets in its header', () => {
      const size = 256 * 1024 + 12345; // not a page multiple: the tail is left unused
      const region = s.region(size);
      const g = addon.format([region], 4, false);
      expect(g.data0Offset).to.equal(g.controlSize);
      expect(g.data1Offset).to.equal(g.data0Offset + g.dataSize);
      expect(g.data1Offset + g.dataSize).to.be.at.most(size);
      expect(g.ringSize).to.be.at.least(addon.constants.minRingSize);
      expect(s.open([region]).geometry()).to.deep.equal(g);
    });

    it('carries bytes both ways, each direction in its own data section', async () => {
      const region = s.region(128 * 1024);
      const g = addon.format([region], 2, false);
      const a = s.open([region]);
      const b = s.open([region]);
      a.attach(SIDE_A, 'poll', process.pid, 'a', Date.now());
      b.attach(SIDE_B, 'poll', process.pid, 'b', Date.now());
      const { slot, generation } = await a.createChannel('duplex', 0o600, 0, 0, Date.now());
      const ch = { slot, generation, name: 'duplex' };
      const A = new EngineSide(a);
      const B = new EngineSide(b);
      const fa = A.open(ch, O_RDWR | O_NONBLOCK);
      const fb = B.open(ch, O_RDWR | O_NONBLOCK);

      const there = Buffer.from('from a to b, through data0');
      const back = Buffer.from('from b to a, through data1');
      expect(await A.writeAsync(fa, there)).to.equal(there.length);
      expect(await B.writeAsync(fb, back)).to.equal(back.length);

      // The bytes sit where the header says each data section starts.
      expect(pread(region, g.data0Offset + slot * g.ringSize, there.length)).to.deep.equal(there);
      expect(pread(region, g.data1Offset + slot * g.ringSize, back.length)).to.deep.equal(back);

      expect((await B.readAsync(fb, 64)).data).to.deep.equal(there);
      expect((await A.readAsync(fa, 64)).data).to.deep.equal(back);
    });

    it('refuses a region too small for the channels asked, with EIVFS_too-small', () => {
      const region = s.region(16 * 1024);
      const err = thrown(() => addon.format([region], 4, false));
      expect(err.code).to.equal('EIVFS_too-small');
    });

    it('refuses to reformat without force (EIVFS_formatted, the message says --force)', () => {
      const region = s.region(128 * 1024);
      addon.format([region], 2, false);
      const err = thrown(() => addon.format([region], 2, false));
      expect(err.code).to.equal('EIVFS_formatted');
      expect(err.message).to.include('--force');
      expect(err.message).to.include(region);
      expect(addon.format([region], 3, true).capacity).to.equal(3);
    });
  });
});

describe('mount validation', () => {
  const s = useScratch();

  /** The error a mount of `paths` is refused with. */
  const refusal = (paths: string[]) => thrown(() => s.open(paths));

  it('refuses a missing memsection with EIVFS_missing, naming it and saying how to create the set', () => {
    const { paths } = s.formatted();
    fs.unlinkSync(paths[2]);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_missing');
    expect(err.message).to.include(paths[2]);
    expect(err.message).to.include('intervmfs format');
  });

  it('refuses an unformatted set with EIVFS_unformatted, naming the control memsection', () => {
    const paths = s.files();
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_unformatted');
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.include('intervmfs format');
  });

  it('refuses a header with a bad magic with EIVFS_corrupt', () => {
    const { paths } = s.formatted();
    pwrite(paths[0], L.magic, Buffer.from('NOTMAGIC'));
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_corrupt');
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.match(/magic/);
  });

  it('refuses a header with a scribbled field, caught by the checksum, with EIVFS_corrupt', () => {
    const { paths } = s.formatted();
    writeU32(paths[0], L.channelCapacity, SMALL.capacity - 1); // still a plausible capacity
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_corrupt');
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.match(/checksum/);
  });

  it('refuses a scribbled checksum itself with EIVFS_corrupt', () => {
    const { paths } = s.formatted();
    const check = pread(paths[0], L.headerCheck, 8);
    check[0] ^= 0x01;
    pwrite(paths[0], L.headerCheck, check);
    expect(refusal(paths).code).to.equal('EIVFS_corrupt');
  });

  it('refuses another layout version with EIVFS_version, saying which versions are involved', () => {
    const { paths } = s.formatted();
    writeU32(paths[0], L.layoutVersion, addon.constants.layoutVersion + 1);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_version');
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.include(`version ${addon.constants.layoutVersion + 1}`);
  });

  it('refuses a control memsection shorter than a header with EIVFS_too-small', () => {
    const { paths } = s.formatted();
    fs.truncateSync(paths[0], 100);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_too-small');
    expect(err.message).to.include(paths[0]);
  });

  it('refuses a control memsection shorter than its channel table with EIVFS_too-small', () => {
    const { paths, geometry } = s.formatted();
    fs.truncateSync(paths[0], geometry.controlSize - 4096);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_too-small');
    expect(err.message).to.include(paths[0]);
  });

  it('refuses data memsections smaller than the header says with EIVFS_too-small, naming data0', () => {
    const { paths, geometry } = s.formatted();
    fs.truncateSync(paths[1], geometry.dataSize - 4096);
    fs.truncateSync(paths[2], geometry.dataSize - 4096);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_too-small');
    expect(err.message).to.include(paths[1]);
  });

  it('refuses an empty memsection with EIVFS_too-small', () => {
    const { paths } = s.formatted();
    fs.truncateSync(paths[1], 0);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_too-small');
    expect(err.message).to.include(paths[1]);
  });

  it('refuses data memsections of different sizes with EIVFS_mismatch, naming both', () => {
    const { paths, geometry } = s.formatted();
    fs.truncateSync(paths[2], geometry.dataSize + 4096);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_mismatch');
    expect(err.message).to.include(paths[1]);
    expect(err.message).to.include(paths[2]);
  });

  it('refuses a three-file set whose header describes a single region', () => {
    const region = s.region(128 * 1024);
    addon.format([region], 2, false);
    const paths = s.files(2, 2 * addon.constants.minRingSize);
    fs.copyFileSync(region, paths[0]);
    fs.truncateSync(paths[0], addon.planFiles(2, 2 * addon.constants.minRingSize).controlSize);
    const err = refusal(paths);
    expect(err.code).to.equal('EIVFS_corrupt');
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.match(/one region/);
  });

  it('refuses a region whose header describes more than the region holds with EIVFS_too-small', () => {
    const region = s.region(128 * 1024);
    addon.format([region], 2, false);
    fs.truncateSync(region, 64 * 1024);
    const err = refusal([region]);
    expect(err.code).to.equal('EIVFS_too-small');
    expect(err.message).to.include(region);
  });

  it('turns every refusal into a UserError with the same message for the CLI (exit code 2)', () => {
    const paths = s.files();
    const spec: MemsectionSpec = { given: path.dirname(paths[0]), kind: 'folder', paths };
    const err = thrown(() => openMemsections(spec));
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).exitCode).to.equal(2);
    expect(err.message).to.include(paths[0]);
    expect(err.message).to.match(/not formatted/);
  });

  it('tells the user how to create a set that does not exist', () => {
    const dir = path.join(s.tempDir(), 'nowhere');
    const err = thrown(() => locateMemsections(dir));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.include(`intervmfs format --memsections ${dir}`);
  });
});
