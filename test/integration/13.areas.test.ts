// Areas by ID among several peers (issue 17), on the host: three peers on
// one area region in the arrangement of Xen's static shared memory example
// (vm1-vm2 share area 1, vm1-vm3 area 2) plus an area 3 shared by all three.
// Every mount is a real daemon made through the CLI; data moves through
// real channels, checked by digest; the registry is read with `status --json`
// as an admin would.
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';
import fsp from 'fs/promises';
import path from 'path';
import { isMounted, Lab, listing, MountInfo, mkfifo, useLab, waitUntil } from './mounts';

interface Mapping {
  name: string;
  alive: boolean;
  pid: number;
  host: string;
  attachedAtMs: number;
  regionOffset: number;
}
interface AreaJson {
  id: number;
  size: number;
  owner: string;
  offset: number;
  mappings: Mapping[];
  pairs: { names: [string, string]; sides: { bellsRung: number; attached: boolean }[]; channels: { name: string }[] }[];
}
interface RegionJson {
  registryVersion: number;
  areas: AreaJson[];
}

async function registry(lab: Lab, region: string): Promise<RegionJson> {
  const r = await lab.cli(['status', '--memsections', region, '--json']);
  if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as RegionJson;
}

const areaOf = (reg: RegionJson, id: number) => reg.areas.find((a) => a.id === id);
const names = (a: AreaJson | undefined) => (a?.mappings ?? []).map((m) => m.name).sort();

/** A refusal is one line on stderr, exit status 2, and leaves the registry as it was. */
async function expectRefusal(lab: Lab, region: string, run: () => Promise<{ code: number | null; stderr: string }>, says: string): Promise<void> {
  const before = await registry(lab, region);
  const r = await run();
  expect(r.code, r.stderr).to.equal(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.include(says);
  const after = await registry(lab, region);
  expect(after.registryVersion, 'registry version').to.equal(before.registryVersion);
  const shape = (x: RegionJson) => x.areas.map((a) => ({ id: a.id, size: a.size, owner: a.owner, peers: names(a), pairs: a.pairs.map((p) => p.names) }));
  expect(shape(after)).to.deep.equal(shape(before));
}

describe('integration: areas shared by sets of peers on one region', function () {
  this.timeout(120_000);
  const lab = useLab('areas');
  let region: string;
  // mounts[peer][area]
  const mounts: Record<string, Record<number, MountInfo>> = { vm1: {}, vm2: {}, vm3: {} };
  const at = (peer: string, area: number, ...rest: string[]) => path.join(mounts[peer][area].mountpoint, ...rest);

  before(async () => {
    region = await lab().formatAreas('areas', '64M');
  });

  it('formats an empty registry that status shows, in text and JSON', async () => {
    const reg = await registry(lab(), region);
    expect(reg.areas).to.deep.equal([]);
    const text = await lab().cli(['status', '--memsections', region]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/area region .*: 64 MiB, 0 areas/);
  });

  it('creates area 1 from its first peer (its owner) and records every mapping as peers attach', async () => {
    mounts.vm1[1] = await lab().mountArea('vm1-a1', region, 1, 'vm1', ['--area-size', '8M', '--pair-size', '1M']);
    let a1 = areaOf(await registry(lab(), region), 1)!;
    expect(a1).to.include({ owner: 'vm1', size: 8 * 1024 * 1024 });
    expect(names(a1)).to.deep.equal(['vm1']);
    expect(await listing(mounts.vm1[1].mountpoint), 'no other peer yet').to.deep.equal([]);

    mounts.vm2[1] = await lab().mountArea('vm2-a1', region, 1, 'vm2'); // a later peer may omit the size
    a1 = areaOf(await registry(lab(), region), 1)!;
    expect(names(a1)).to.deep.equal(['vm1', 'vm2']);
    const vm2 = a1.mappings.find((m) => m.name === 'vm2')!;
    expect(vm2.pid, 'the mapping names the daemon').to.equal(mounts.vm2[1].pid);
    expect(vm2.alive).to.equal(true);
    expect(vm2.regionOffset, 'where the area sits in the region').to.equal(a1.offset);
    expect(a1.owner, 'the owner stays the creator').to.equal('vm1');
    expect(await listing(mounts.vm1[1].mountpoint)).to.deep.equal(['vm2']);
    expect(await listing(mounts.vm2[1].mountpoint)).to.deep.equal(['vm1']);
  });

  it('lays out the rest of the arrangement: area 2 for vm1 and vm3, area 3 for all three', async () => {
    mounts.vm1[2] = await lab().mountArea('vm1-a2', region, 2, 'vm1', ['--area-size', '4M', '--pair-size', '1M']);
    mounts.vm3[2] = await lab().mountArea('vm3-a2', region, 2, 'vm3');
    mounts.vm1[3] = await lab().mountArea('vm1-a3', region, 3, 'vm1', ['--area-size', '8M', '--pair-size', '1M']);
    mounts.vm2[3] = await lab().mountArea('vm2-a3', region, 3, 'vm2');
    mounts.vm3[3] = await lab().mountArea('vm3-a3', region, 3, 'vm3', ['--area-size', '8M']); // the same size: accepted
    const reg = await registry(lab(), region);
    expect(reg.areas.map((a) => [a.id, a.owner, names(a)])).to.deep.equal([
      [1, 'vm1', ['vm1', 'vm2']],
      [2, 'vm1', ['vm1', 'vm3']],
      [3, 'vm1', ['vm1', 'vm2', 'vm3']],
    ]);
    expect(await listing(at('vm1', 3))).to.deep.equal(['vm2', 'vm3']);
    expect(await listing(at('vm3', 3))).to.deep.equal(['vm1', 'vm2']);
    expect(await listing(at('vm3', 2))).to.deep.equal(['vm1']);
  });

  it('shows a channel made by vm1 in vm2/ to vm2 in vm1/ and to nobody else', async () => {
    await mkfifo(lab(), at('vm1', 3, 'vm2', 'secret'));
    expect(await listing(at('vm2', 3, 'vm1'))).to.deep.equal(['secret']);
    expect(await listing(at('vm3', 3, 'vm1')), 'vm3 shares no such channel with vm1').to.deep.equal([]);
    expect(await listing(at('vm3', 3, 'vm2')), 'nor with vm2').to.deep.equal([]);
    expect(await listing(at('vm1', 3, 'vm3'))).to.deep.equal([]);
    expect(await listing(at('vm1', 1, 'vm2')), 'area 1 is another area').to.deep.equal([]);
    await fsp.unlink(at('vm2', 3, 'vm1', 'secret'));
    expect(await listing(at('vm1', 3, 'vm2'))).to.deep.equal([]);
  });

  it('moves data each way on every pair of every area at once, every digest equal', async function () {
    const pairs: [string, string, number][] = [
      ['vm1', 'vm2', 1],
      ['vm1', 'vm3', 2],
      ['vm1', 'vm2', 3],
      ['vm1', 'vm3', 3],
      ['vm2', 'vm3', 3],
    ];
    const transfers: Promise<void>[] = [];
    for (const [x, y, area] of pairs) {
      await mkfifo(lab(), at(x, area, y, 'bulk'));
      for (const [from, to] of [
        [x, y],
        [y, x],
      ]) {
        const name = `${from}-to-${to}-area${area}`;
        const payload = crypto.randomBytes(1024 * 1024 + 77);
        const file = lab().path(`${name}.bin`);
        fs.writeFileSync(file, payload);
        // Each direction of a channel is its own ring: the reader on `to`
        // reads what `from` writes while the reverse runs on the same channel.
        const ch = 'bulk';
        const reader = lab().sh('exec sha256sum < "$1"', [at(to, area, from, ch)], { timeoutMs: 60_000 });
        const writer = lab().sh('exec cat "$2" > "$1"', [at(from, area, to, ch), file], { timeoutMs: 60_000 });
        const want = crypto.createHash('sha256').update(payload).digest('hex');
        transfers.push(
          Promise.all([reader.done, writer.done]).then(([r, w]) => {
            expect(w.code, `writer ${name}: ${w.stderr}`).to.equal(0);
            expect(r.code, `reader ${name}: ${r.stderr}`).to.equal(0);
            expect(r.stdout.split(' ')[0], `digest of ${name}`).to.equal(want);
          }),
        );
      }
    }
    await Promise.all(transfers);
  });

  it('wakes only the peers of a channel: vm3, idle in area 3, is not rung while vm1 and vm2 stream', async () => {
    const bellsOf = async (peer: string) =>
      areaOf(await registry(lab(), region), 3)!
        .pairs.filter((p) => p.names.includes(peer))
        .map((p) => p.sides[p.names.indexOf(peer)].bellsRung);
    const idleBefore = await bellsOf('vm3');
    const busyBefore = await bellsOf('vm2');
    await mkfifo(lab(), at('vm1', 3, 'vm2', 'stream'));
    const reader = lab().sh('exec wc -c < "$1"', [at('vm2', 3, 'vm1', 'stream')], { timeoutMs: 60_000 });
    const writer = lab().sh('head -c 16777216 /dev/zero | dd of="$1" bs=4k 2>/dev/null', [at('vm1', 3, 'vm2', 'stream')], { timeoutMs: 60_000 });
    const [r, w] = await Promise.all([reader.done, writer.done]);
    expect(w.code, w.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('16777216');
    expect(await bellsOf('vm3'), 'bells of vm3 (pairs with vm1 and vm2)').to.deep.equal(idleBefore);
    const busyAfter = await bellsOf('vm2');
    expect(busyAfter.reduce((x, y) => x + y, 0), 'vm2 was rung (its open and the end of file at least)').to.be.greaterThan(busyBefore.reduce((x, y) => x + y, 0));
  });

  it('refuses a different size, naming both sizes, and changes nothing', async () => {
    const mnt = await lab().mountpoint('refused');
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 1, 'vm4', ['--area-size', '4M']), 'created with a size of 8 MiB (by vm1); vm4 asked for 4 MiB');
    expect(isMounted(mnt)).to.equal(false);
  });

  it('refuses a new area without a size, an ID out of range, a missing or bad --peer, a name attached elsewhere, and no space left, each in one line', async () => {
    const mnt = await lab().mountpoint('refused2');
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 9, 'vm1'), 'area 9 does not exist');
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 70000, 'vm1', ['--area-size', '1M']), 'area ID 70000 is out of range');
    await expectRefusal(lab(), region, () => lab().cli(['mount', mnt, '--memsections', region, '--area', '1']), '--area 1 needs --peer NAME');
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 1, '../x'), "peer name '../x' is not allowed");
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 1, 'vm2'), `peer name vm2 is already attached to area 1 by pid ${mounts.vm2[1].pid}`);
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 9, 'vm1', ['--area-size', '1G']), 'no space left');
    // Area 2 holds 4 pairs of 1 MiB; vm1 and vm3 use one. A third peer
    // needs 2 more, a fourth 3 more: it finds one slot.
    const p4 = await lab().mountArea('a2-p4', region, 2, 'p4');
    await expectRefusal(lab(), region, () => lab().tryMountArea(mnt, region, 2, 'p5'), 'no space left in area 2 for the pairs of p5');
    expect((await lab().cli(['unmount', p4.mountpoint])).code).to.equal(0);
    expect(isMounted(mnt)).to.equal(false);
  });

  it('refuses to unmount while a channel is open, naming it by its peer folder', async () => {
    await mkfifo(lab(), at('vm1', 1, 'vm2', 'held'));
    const holder = lab().sh('exec 3<>"$1"; echo open; exec sleep 30', [at('vm1', 1, 'vm2', 'held')], { timeoutMs: 40_000 });
    await holder.waitForOutput('open');
    const r = await lab().cli(['unmount', mounts.vm1[1].mountpoint]);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr.trim()).to.equal(`intervmfs: channels are open on ${mounts.vm1[1].mountpoint}: vm2/held (1); close them first or use --force`);
    expect(isMounted(mounts.vm1[1].mountpoint)).to.equal(true);
    holder.kill('SIGKILL');
    await holder.done;
  });

  it('refuses to remove an area in use, naming its peers, and removes one nobody uses', async () => {
    await expectRefusal(lab(), region, () => lab().cli(['area', 'rm', '--memsections', region, '--id', '2']), 'area 2 is in use by vm1');
    const m = await lab().mountArea('a4', region, 4, 'solo', ['--area-size', '1M', '--pair-size', '1M']);
    expect((await lab().cli(['unmount', m.mountpoint])).code).to.equal(0);
    expect(names(areaOf(await registry(lab(), region), 4)), 'a detached peer leaves no mapping').to.deep.equal([]);
    const r = await lab().cli(['area', 'rm', '--memsections', region, '--id', '4']);
    expect(r.code, r.stderr).to.equal(0);
    expect(areaOf(await registry(lab(), region), 4)).to.equal(undefined);
  });

  it('drops a peer from the registry and from the others\u2019 listings when it unmounts, and takes it back when it returns', async () => {
    expect((await lab().cli(['unmount', at('vm3', 3)])).code).to.equal(0);
    expect(names(areaOf(await registry(lab(), region), 3))).to.deep.equal(['vm1', 'vm2']);
    await waitUntil(() => !fs.readdirSync(at('vm1', 3)).includes('vm3'), 5_000, 'vm1 stops listing vm3');
    mounts.vm3[3] = await lab().mountArea('vm3-a3', region, 3, 'vm3');
    expect(names(areaOf(await registry(lab(), region), 3))).to.deep.equal(['vm1', 'vm2', 'vm3']);
    expect(await listing(at('vm1', 3))).to.deep.equal(['vm2', 'vm3']);
    expect(await listing(at('vm1', 3, 'vm3')), 'the pair and its channels outlive a remount').to.include('bulk');
  });

  it('gives a killed peer\u2019s name and mount point back to its next mount, which says so in one line', async () => {
    const victim = mounts.vm2[1];
    process.kill(victim.pid, 'SIGKILL');
    await waitUntil(() => !fs.existsSync(`/proc/${victim.pid}`) || fs.readFileSync(`/proc/${victim.pid}/stat`, 'utf8').includes(') Z'), 5_000, 'the daemon is gone');
    const r = await lab().tryMountArea(victim.mountpoint, region, 1, 'vm2');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include('was left by a dead intervmfs daemon');
    mounts.vm2[1] = { mountpoint: victim.mountpoint, pid: Number(/daemon pid (\d+)/.exec(r.stdout)![1]), stdout: r.stdout };
    const a1 = areaOf(await registry(lab(), region), 1)!;
    expect(a1.mappings.find((m) => m.name === 'vm2')?.pid).to.equal(mounts.vm2[1].pid);
    expect(await listing(at('vm2', 1))).to.deep.equal(['vm1']);
  });
});
