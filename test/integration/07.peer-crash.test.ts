// A side's daemon killed with SIGKILL (a crashed guest): the other side's
// blocked readers and writers return within a few seconds instead of hanging,
// and the dead side mounts again without reformatting, with its channels and
// the bytes already in their rings.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { delay, isAlive, listing, mkfifo, MountInfo, useLab, waitUntil, within } from './mounts';

describe('integration: a peer daemon killed with SIGKILL', function () {
  this.timeout(60_000);
  const lab = useLab('crash');
  let set: string;
  let A: MountInfo;
  let B: MountInfo;
  const a = (name: string) => path.join(A.mountpoint, name);
  const b = (name: string) => path.join(B.mountpoint, name);

  let round = 0;
  beforeEach(async () => {
    round++;
    set = await lab().format(`set${round}`, ['--channels', '8', '--data-size', '1M']);
    A = await lab().mount(`a${round}`, set, 'a');
    B = await lab().mount(`b${round}`, set, 'b');
  });
  afterEach(async () => {
    for (const m of [A, B]) await lab().cli(['unmount', '--force', m.mountpoint]);
  });

  async function killDaemon(m: MountInfo): Promise<number> {
    process.kill(m.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(m.pid), 5_000, `daemon ${m.pid} gone`);
    return Date.now();
  }

  /** The dead mount cleared away and the side mounted again over the same set. */
  async function remount(m: MountInfo, side: 'a' | 'b'): Promise<MountInfo> {
    const u = await lab().cli(['unmount', '--force', m.mountpoint]);
    expect(u.code, `unmount of the dead mount: ${u.stderr}`).to.equal(0);
    return lab().mount(path.basename(m.mountpoint), set, side);
  }

  it('ends a reader on the other side with EOF once the ring is drained, mid-transfer', async () => {
    await mkfifo(lab(), a('big'));
    const out = lab().path('received');
    const reader = lab().sh('cat "$1" > "$2"', [b('big'), out], { timeoutMs: 50_000 });
    lab().sh('dd if=/dev/zero of="$1" bs=64K count=16384 status=none', [a('big')], { timeoutMs: 50_000 });
    await waitUntil(() => fs.existsSync(out) && fs.statSync(out).size > 1 << 20, 20_000, 'the transfer under way');

    const killedAt = await killDaemon(A);
    const r = await within(reader.done, 15_000, 'the reader ending after the peer died');
    const seconds = (Date.now() - killedAt) / 1000;
    expect(r.code, `cat ends with EOF, not an error: ${r.stderr}`).to.equal(0);
    expect(seconds, 'returned within a few seconds').to.be.below(10);
    expect(fs.statSync(out).size % 65536, 'only whole writes arrived').to.equal(0);
  });

  it('ends a writer blocked on a full ring with EPIPE, and delivers what it queued after the restart', async () => {
    await mkfifo(lab(), a('full'));
    // A reader on side a that never reads: the writer on side b fills the ring and waits.
    lab().sh('exec 3< "$1"; exec sleep 50', [a('full')], { timeoutMs: 55_000 });
    await delay(200);
    const writer = lab().sh('trap "" PIPE; head -c 600000 /dev/zero | tr "\\0" x | dd of="$1" bs=4096 status=none', [b('full')], {
      timeoutMs: 50_000,
    });
    await delay(1000);
    expect(writer.running, 'the writer waits on the full ring').to.equal(true);

    const killedAt = await killDaemon(A);
    const w = await within(writer.done, 15_000, 'the writer ending after the peer died');
    expect((Date.now() - killedAt) / 1000, 'returned within a few seconds').to.be.below(10);
    expect(w.stderr).to.include('Broken pipe');

    A = await remount(A, 'a');
    expect(await listing(A.mountpoint), 'the channel survived').to.include('full');
    const got = await lab().proc('head', ['-c', '1000', a('full')], { timeoutMs: 15_000 }).done;
    expect(got.code, got.stderr).to.equal(0);
    expect(got.stdout, 'bytes queued before the crash arrive after it').to.equal('x'.repeat(1000));
  });

  it('mounts both sides again after both died, with the channels, a correct status, and working transfers', async () => {
    await mkfifo(lab(), a('kept'));
    await killDaemon(A);
    await killDaemon(B);
    A = await remount(A, 'a');
    B = await remount(B, 'b');

    const st = await lab().cli(['status', '--memsections', set]);
    expect(st.code, st.stderr).to.equal(0);
    expect(st.stdout).to.match(new RegExp(`^ {2}a: attached pid ${A.pid} .*mount #2$`, 'm'));
    expect(st.stdout).to.match(new RegExp(`^ {2}b: attached pid ${B.pid} .*mount #2$`, 'm'));
    expect(st.stdout).to.match(/^ {2}kept: .*open on a 0, on b 0$/m);

    const reader = lab().proc('cat', [b('kept')], { timeoutMs: 15_000 });
    const w = await lab().sh('echo after-restart > "$1"', [a('kept')], { timeoutMs: 15_000 }).done;
    expect(w.code, w.stderr).to.equal(0);
    expect((await reader.done).stdout).to.equal('after-restart\n');
  });
});
