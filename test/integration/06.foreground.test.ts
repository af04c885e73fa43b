// `intervmfs mount --foreground`: serves until SIGTERM or SIGINT, then
// answers waiting programs, unmounts and exits 0.
import { expect } from 'chai';
import path from 'path';
import { isMounted, listing, mkfifo, procMounts, useLab, waitUntil, within } from './mounts';

describe('integration: mount --foreground', function () {
  const lab = useLab('fg');
  let set: string;

  before(async () => {
    set = await lab().format('set', ['--channels', '4', '--data-size', '64K']);
  });

  async function foreground(name: string, side: 'a' | 'b') {
    const mnt = await lab().mountpoint(name);
    const daemon = lab().cliProc(['mount', mnt, '--memsections', set, '--side', side, '--foreground']);
    await waitUntil(() => isMounted(mnt) || !daemon.running, 15_000, `${mnt} is mounted`);
    expect(daemon.running, 'the foreground daemon keeps running').to.equal(true);
    expect(isMounted(mnt)).to.equal(true);
    return { mnt, daemon };
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`serves until ${signal}, then unmounts and exits 0, leaving nothing in /proc/mounts`, async function () {
      this.timeout(30_000);
      const { mnt, daemon } = await foreground(`fg-${signal}`, 'a');
      await mkfifo(lab(), path.join(mnt, `made-before-${signal}`));
      expect(await listing(mnt)).to.include(`made-before-${signal}`);

      daemon.kill(signal);
      const r = await within(daemon.done, 15_000, `the daemon's exit after ${signal}`);
      expect({ code: r.code, signal: r.signal }, r.stderr).to.deep.equal({ code: 0, signal: null });
      expect(procMounts(), 'nothing left in /proc/mounts').not.to.include(mnt);

      const st = await lab().cli(['status', '--memsections', set]);
      expect(st.code, st.stderr).to.equal(0);
      expect(st.stdout).to.match(/^ {2}a: detached/m);
    });
  }

  it('answers a reader blocked in the mount with an error at SIGTERM instead of leaving it hanging', async function () {
    this.timeout(30_000);
    const { mnt, daemon } = await foreground('fg-busy', 'b');
    const chan = path.join(mnt, 'waiting');
    await mkfifo(lab(), chan);
    const cat = lab().proc('cat', [chan], { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cat.running, 'the reader waits for data').to.equal(true);

    daemon.kill('SIGTERM');
    const r = await within(daemon.done, 15_000, 'the daemon exit after SIGTERM');
    expect({ code: r.code, signal: r.signal }, r.stderr).to.deep.equal({ code: 0, signal: null });
    expect(isMounted(mnt)).to.equal(false);
    const c = await cat.done;
    expect(c.timedOut, 'the reader was answered').to.equal(false);
    expect(c.code).to.equal(1);
    expect(c.stderr).to.include('Input/output error');
  });
});
