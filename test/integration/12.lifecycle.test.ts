// A daemon lives exactly as long as its mount, however the mount ends:
// `intervmfs unmount`, fusermount -u, umount, lazy unmounts, SIGTERM, an
// aborted connection; idle, or with a reader or a writer blocked in it. In
// every case the daemon is gone, nothing is mounted, the side is detached,
// the side mounts again, and the peer works with the new mount at once.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fs from 'fs';
import fsp from 'fs/promises';
import path from 'path';
import { errnoOf, isAlive, isMounted, mkfifo, MountInfo, Proc, useLab, waitUntil } from './mounts';

type State = 'idle' | 'reader blocked' | 'writer blocked';
interface Ending {
  name: string;
  /** Ends the mount of side a; `blocked` is the program blocked in it, if any. */
  end: (a: MountInfo) => Promise<void>;
  /** A lazy unmount leaves the blocked program its descriptor: the daemon ends when it goes. */
  lazy?: boolean;
  /** Refused while a descriptor is open (the kernel's EBUSY): only tried idle. */
  idleOnly?: boolean;
}

const FUSERMOUNT = path.resolve(__dirname, '../../../node_modules/fuse-shared-library-linux/libfuse/bin/fusermount');

/** The FUSE connection number of a mount point: the minor of its device (glibc's gnu_dev_minor). */
function connectionOf(mountpoint: string): number {
  const dev = fs.statSync(mountpoint).dev;
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

describe('integration: the daemon ends with its mount', function () {
  this.timeout(60_000);
  const lab = useLab('lifecycle');
  const run = (cmd: string, args: string[]) => lab().proc(cmd, args, { timeoutMs: 20_000 }).done;

  // The connections' control files (fusectl); mounted here if the machine
  // has not, and unmounted again after.
  const FUSECTL = '/sys/fs/fuse/connections';
  let mountedFusectl = false;
  before(() => {
    if (!fs.readFileSync('/proc/mounts', 'utf8').includes(' fusectl ')) {
      execFileSync('mount', ['-t', 'fusectl', 'none', FUSECTL]);
      mountedFusectl = true;
    }
  });
  after(() => {
    if (mountedFusectl) execFileSync('umount', [FUSECTL]);
  });

  const endings: Ending[] = [
    { name: 'intervmfs unmount --force', end: async (a) => void (await lab().cli(['unmount', '--force', a.mountpoint])) },
    { name: 'SIGTERM to the daemon', end: async (a) => void process.kill(a.pid, 'SIGTERM') },
    { name: 'fusermount -u', idleOnly: true, end: async (a) => void (await run(FUSERMOUNT, ['-u', a.mountpoint])) },
    { name: 'umount', idleOnly: true, end: async (a) => void (await run('umount', [a.mountpoint])) },
    { name: 'fusermount -uz (lazy)', lazy: true, end: async (a) => void (await run(FUSERMOUNT, ['-uz', a.mountpoint])) },
    { name: 'umount -l (lazy)', lazy: true, end: async (a) => void (await run('umount', ['-l', a.mountpoint])) },
    {
      name: 'an aborted connection (/sys/fs/fuse/connections/N/abort)',
      end: async (a) => fs.writeFileSync(`${FUSECTL}/${connectionOf(a.mountpoint)}/abort`, '1'),
    },
  ];
  const states: State[] = ['idle', 'reader blocked', 'writer blocked'];

  let round = 0;
  for (const ending of endings) {
    for (const state of states) {
      if (ending.idleOnly && state !== 'idle') continue;
      it(`${ending.name}, ${state}: the daemon is gone, the side detached, and a new mount works with the peer at once`, async () => {
        round++;
        const set = await lab().format(`set${round}`, ['--channels', '4', '--data-size', '64K']);
        const A = await lab().mount(`a${round}`, set, 'a');
        const B = await lab().mount(`b${round}`, set, 'b');
        await mkfifo(lab(), path.join(A.mountpoint, 'ch'));
        let blocked: Proc | undefined;
        if (state === 'reader blocked') blocked = lab().proc('cat', [path.join(A.mountpoint, 'ch')], { timeoutMs: 40_000 });
        if (state === 'writer blocked') blocked = lab().sh('exec head -c 1000000 /dev/zero > "$1"', [path.join(A.mountpoint, 'ch')], { timeoutMs: 40_000 });
        if (blocked) await waitUntil(() => /fuse|request_wait/.test(wchan(blocked!.child.pid!)), 10_000, `the ${state.split(' ')[0]} blocked in the mount`);
        if (state === 'writer blocked') {
          // Blocked because the ring is full, not merely because its first
          // request is still queued for a busy daemon.
          for (let tries = 0; ; tries++) {
            const st = JSON.parse((await lab().cli(['status', '--json', '--memsections', set])).stdout);
            const ring = st.channels.find((c: { name: string }) => c.name === 'ch').rings[0];
            if (ring.head - ring.tail === st.geometry.ringSize) break;
            if (tries > 20) throw new Error('the writer never filled the ring');
          }
        }

        await ending.end(A);
        if (ending.lazy && blocked) {
          // Lazily unmounted, the blocked program still holds its descriptor
          // and is still served; the daemon goes once it has gone.
          expect(isMounted(A.mountpoint), 'lazily unmounted').to.equal(false);
          expect(isAlive(A.pid), 'the daemon serves the open descriptor').to.equal(true);
          blocked.kill('SIGKILL');
        }
        if (blocked) expect((await blocked.done).timedOut, `the ${state.split(' ')[0]} was answered`).to.equal(false);
        await waitUntil(() => !isAlive(A.pid), 10_000, `daemon ${A.pid} gone after ${ending.name}`);
        expect(isMounted(A.mountpoint), 'nothing mounted').to.equal(false);
        const status = await lab().cli(['status', '--memsections', set, '--json']);
        expect(JSON.parse(status.stdout).sides[0].attached, 'side a detached').to.equal(false);

        // The side mounts again, and the peer works with it at once.
        const again = await lab().mount(`a${round}`, set, 'a');
        if (state === 'writer blocked') {
          // What the ended writer queued is still in the ring (nothing
          // written is lost): a reader gets it, then end of file, as that
          // writer has gone.
          const drained = await lab().proc('cat', [path.join(B.mountpoint, 'ch')], { timeoutMs: 20_000 }).done;
          expect(drained.timedOut, 'the queued bytes, then end of file').to.equal(false);
          expect(drained.out.length).to.be.greaterThan(0);
        }
        const reader = lab().proc('cat', [path.join(B.mountpoint, 'ch')], { timeoutMs: 20_000 });
        const w = await lab().sh('echo back > "$1"', [path.join(again.mountpoint, 'ch')], { timeoutMs: 20_000 }).done;
        expect(w.code, w.stderr).to.equal(0);
        expect((await reader.done).stdout, 'the new mount’s line reached the peer').to.equal('back\n');
        for (const m of [again, B]) await lab().cli(['unmount', '--force', m.mountpoint]);
      });
    }
  }

  it('kill -9 of a daemon, then an immediate remount: the peer sees the new mount at once, not a dead one', async () => {
    const set = await lab().format('crash', ['--channels', '4', '--data-size', '64K']);
    const A = await lab().mount('crash-a', set, 'a');
    const B = await lab().mount('crash-b', set, 'b', ['--log', lab().path('crash-b.log')]);
    await mkfifo(lab(), path.join(A.mountpoint, 'ch'));
    process.kill(A.pid, 'SIGKILL');
    // Side b's watch declares the peer dead (its heartbeat stopped)...
    await waitUntil(() => fs.readFileSync(lab().path('crash-b.log'), 'utf8').includes('peer stopped beating'), 15_000, 'side b noticed the death');
    // ...and the side comes back at once.
    await lab().cli(['unmount', '--force', A.mountpoint]);
    const again = await lab().mount('crash-a', set, 'a');
    const reader = lab().proc('cat', [path.join(B.mountpoint, 'ch')], { timeoutMs: 20_000 });
    const w = await lab().sh('echo alive > "$1"', [path.join(again.mountpoint, 'ch')], { timeoutMs: 20_000 }).done;
    expect(w.code, w.stderr).to.equal(0);
    expect((await reader.done).stdout, 'the reader opened right after the remount got the line, not an early EOF').to.equal('alive\n');
    // And the other way: a writer on b, a reader on the new a.
    const back = lab().proc('cat', [path.join(again.mountpoint, 'ch')], { timeoutMs: 20_000 });
    const w2 = await lab().sh('echo also > "$1"', [path.join(B.mountpoint, 'ch')], { timeoutMs: 20_000 }).done;
    expect(w2.code, w2.stderr).to.equal(0);
    expect((await back.done).stdout).to.equal('also\n');
    for (const m of [again, B]) await lab().cli(['unmount', '--force', m.mountpoint]);
  });

  it('kill -9 of a daemon, then mount on its mount point at once: the dead mount is cleaned up, said in one line, and the new one works', async () => {
    const set = await lab().format('dead', ['--channels', '4', '--data-size', '64K']);
    const A = await lab().mount('dead-a', set, 'a');
    const B = await lab().mount('dead-b', set, 'b');
    process.kill(A.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(A.pid), 5_000, 'the daemon is gone');
    // The first access may find the connection being torn down (ECONNABORTED), later ones find it gone (ENOTCONN).
    expect(await errnoOf(fsp.readdir(A.mountpoint)), 'the dead mount answers as a dead FUSE mount does').to.be.oneOf(['ENOTCONN', 'ECONNABORTED']);
    const r = await lab().tryMount(A.mountpoint, set, 'a');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    expect(r.stderr).to.match(/mount point .* was left by a dead intervmfs daemon \(pid \d+\); cleaned it up/);
    expect(r.stderr).to.not.include('unexpected failure');
    await mkfifo(lab(), path.join(A.mountpoint, 'ch'));
    const reader = lab().proc('cat', [path.join(B.mountpoint, 'ch')], { timeoutMs: 20_000 });
    const w = await lab().sh('echo alive > "$1"', [path.join(A.mountpoint, 'ch')], { timeoutMs: 20_000 }).done;
    expect(w.code, w.stderr).to.equal(0);
    expect((await reader.done).stdout).to.equal('alive\n');
    for (const m of [A, B]) await lab().cli(['unmount', '--force', m.mountpoint]);
  });
});

function wchan(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8');
  } catch {
    return '';
  }
}
