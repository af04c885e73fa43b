// `intervmfs status`: both sides attached, the channels and the bytes they moved.
import { expect } from 'chai';
import os from 'os';
import path from 'path';
import { delay, MountInfo, mkfifo, useLab } from './mounts';

describe('integration: status', function () {
  const lab = useLab('status');
  let set: string;
  let A: MountInfo;
  let B: MountInfo;

  before(async function () {
    this.timeout(30_000);
    set = await lab().format('set', ['--channels', '8', '--data-size', '128K']);
    A = await lab().mount('a', set, 'a', ['--notify', 'futex']);
    B = await lab().mount('b', set, 'b', ['--notify', 'poll']);
  });

  async function status(): Promise<string> {
    const r = await lab().cli(['status', '--memsections', set]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout;
  }

  /**
   * The status once it shows `line`, or the last one seen. A process's close
   * reaches the daemon as a FUSE release after the process has gone, so the
   * open counts may lag its exit by a moment.
   */
  async function statusShowing(line: string): Promise<string> {
    let out = '';
    for (let i = 0; i < 20; i++) {
      out = await status();
      if (out.split('\n').includes(line)) break;
      await delay(100);
    }
    return out;
  }

  it('shows both sides attached, with their daemons and notifiers, and no channel yet', async () => {
    const out = await status();
    const lines = out.split('\n');
    expect(lines).to.include('  8 channels of 16 KiB per direction; data memsections 128 KiB each');
    expect(lines).to.include(`  a: attached pid ${A.pid} on ${os.hostname()}, notify futex, mount #1`);
    expect(lines).to.include(`  b: attached pid ${B.pid} on ${os.hostname()}, notify poll, mount #1`);
    expect(lines).to.include('channels: 0 of 8');
  });

  it('shows a channel with the bytes moved each way and the descriptors open on each side', async () => {
    const chan = 'stats';
    await mkfifo(lab(), path.join(A.mountpoint, chan));
    // 5 bytes a -> b, 3 bytes b -> a, each read to the end.
    const atB = lab().proc('cat', [path.join(B.mountpoint, chan)], { timeoutMs: 15_000 });
    const w1 = await lab().sh('printf hello > "$1"', [path.join(A.mountpoint, chan)], { timeoutMs: 15_000 }).done;
    expect(w1.code, w1.stderr).to.equal(0);
    expect((await atB.done).stdout).to.equal('hello');
    const atA = lab().proc('cat', [path.join(A.mountpoint, chan)], { timeoutMs: 15_000 });
    const w2 = await lab().sh('printf abc > "$1"', [path.join(B.mountpoint, chan)], { timeoutMs: 15_000 }).done;
    expect(w2.code, w2.stderr).to.equal(0);
    expect((await atA.done).stdout).to.equal('abc');

    const moved = `  ${chan}: a->b 5 bytes (0 queued), b->a 3 bytes (0 queued), open on a 0, on b 0`;
    let out = await statusShowing(moved);
    expect(out.split('\n')).to.include('channels: 1 of 8');
    expect(out.split('\n'), out).to.include(moved);
    const ops = out.split('\n')[out.split('\n').indexOf(moved) + 1];
    expect(ops, 'one write and at least one read each way').to.match(/^ {4}operations: a->b 1 writes, [1-9]\d* reads; b->a 1 writes, [1-9]\d* reads$/);
    expect(out).to.match(/^ {2}wake-ups: a rung \d+ times, b rung \d+ times$/m);

    // Bytes written with nobody reading stay queued; a held descriptor is counted.
    const holder = lab().sh('exec 3>"$1"; printf queued >&3; echo ready; exec sleep 30', [path.join(B.mountpoint, chan)], { timeoutMs: 30_000 });
    await holder.waitForOutput('ready');
    out = await status();
    expect(out.split('\n'), out).to.include(`  ${chan}: a->b 5 bytes (0 queued), b->a 9 bytes (6 queued), open on a 0, on b 1`);
    holder.kill('SIGKILL');
    await holder.done;
  });

  it('shows a side as detached once it is unmounted', async function () {
    this.timeout(30_000);
    const r = await lab().cli(['unmount', '--force', B.mountpoint]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = (await status()).split('\n');
    expect(lines).to.include('  b: detached pid ' + B.pid + ` on ${os.hostname()}, notify poll, mount #1`);
    expect(lines).to.include(`  a: attached pid ${A.pid} on ${os.hostname()}, notify futex, mount #1`);
  });
});
