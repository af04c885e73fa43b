// Sixteen peers on one area (the most an area takes): every peer mounts it,
// every one of the 120 pairs carries data both ways at once, and every
// digest is checked. A seventeenth peer is refused. (How mknod and unlink
// times depend on the number of peers is measured by scripts/area-scale.sh,
// not asserted here.)
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { listing, MountInfo, useLab } from './mounts';

const PEERS = 16;

describe('integration: sixteen peers on one area', function () {
  this.timeout(300_000);
  const lab = useLab('area-scale');
  const peers = Array.from({ length: PEERS }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
  const mounts = new Map<string, MountInfo>();
  let region: string;

  before(async function () {
    region = await lab().formatAreas('areas', '48M');
    // 120 pairs of 256 KiB with 2 channels each: 30 MiB.
    for (const p of peers) {
      const extra = p === peers[0] ? ['--area-size', '32M', '--pair-size', '256K', '--pair-channels', '2'] : [];
      mounts.set(p, await lab().mountArea(p, region, 1, p, extra));
    }
  });

  it('lists the fifteen others in every mount', async () => {
    for (const p of peers) expect(await listing(mounts.get(p)!.mountpoint), p).to.deep.equal(peers.filter((q) => q !== p));
  });

  it('refuses a seventeenth peer in one line', async () => {
    const mnt = await lab().mountpoint('p17');
    const r = await lab().tryMountArea(mnt, region, 1, 'p17');
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr.trim()).to.equal('intervmfs: area 1 has 16 peers attached, the most an area takes');
  });

  it('moves 64 KiB each way on all 120 pairs at once, every digest equal', async function () {
    const lines: string[] = [];
    const want = new Map<string, string>();
    for (let i = 0; i < PEERS; i++) {
      for (let j = i + 1; j < PEERS; j++) {
        const [x, y] = [peers[i], peers[j]];
        lines.push(`mknod "${path.join(mounts.get(x)!.mountpoint, y, 'ch')}" p`);
        for (const [from, to] of [
          [x, y],
          [y, x],
        ]) {
          const payload = crypto.randomBytes(64 * 1024);
          const file = lab().path(`${from}-${to}.bin`);
          fs.writeFileSync(file, payload);
          want.set(`${from}-${to}`, crypto.createHash('sha256').update(payload).digest('hex'));
          // Reader and writer of one direction; the reverse runs on the same channel at once.
          lines.push(`sha256sum < "${path.join(mounts.get(to)!.mountpoint, from, 'ch')}" > "${lab().path(`${from}-${to}.sum`)}" &`);
          lines.push(`cat "${file}" > "${path.join(mounts.get(from)!.mountpoint, to, 'ch')}" &`);
        }
      }
    }
    lines.push('wait');
    // mknods first (each pair's channel must exist before its readers open it).
    const script = [...lines.filter((l) => l.startsWith('mknod')), ...lines.filter((l) => !l.startsWith('mknod'))].join('\n');
    const r = await lab().sh(script, [], { timeoutMs: 240_000 }).done;
    expect(r.code, r.stderr).to.equal(0);
    const wrong: string[] = [];
    for (const [key, digest] of want) {
      const got = fs.readFileSync(lab().path(`${key}.sum`), 'utf8').split(' ')[0];
      if (got !== digest) wrong.push(key);
    }
    expect(wrong, 'transfers whose digest differs').to.deep.equal([]);
    expect(want.size).to.equal(240);
  });
});
