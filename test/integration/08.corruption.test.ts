// A hostile or broken peer scribbling on the control memsection: the daemons
// never crash, never hang their users, answer EIO on what is damaged with the
// reason in the log, and `intervmfs check` names the damage.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { addon } from '../../src/native';
import { delay, isAlive, listing, mkfifo, MountInfo, Proc, useLab, within } from './mounts';

const L = addon.layout;

function writeU64(fd: number, offset: number, value: bigint): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  fs.writeSync(fd, b, 0, 8, offset);
}

function writeU32(fd: number, offset: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  fs.writeSync(fd, b, 0, 4, offset);
}

/** CPU seconds a process has used (utime + stime), from /proc. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; 100 Hz on Linux
}

describe('integration: a corrupt control memsection', function () {
  this.timeout(90_000);
  const lab = useLab('corrupt');
  let set: string;
  let A: MountInfo;
  let B: MountInfo;
  let controlFd: number;
  const a = (name: string) => path.join(A.mountpoint, name);
  const b = (name: string) => path.join(B.mountpoint, name);

  before(async function () {
    set = await lab().format('set', ['--channels', '8', '--data-size', '1M']);
    A = await lab().mount('a', set, 'a', ['--log', lab().path('a.log')]);
    B = await lab().mount('b', set, 'b', ['--log', lab().path('b.log')]);
    controlFd = fs.openSync(path.join(set, 'control'), 'r+');
  });
  after(() => fs.closeSync(controlFd));

  async function slotOf(name: string): Promise<number> {
    const r = await lab().cli(['status', '--json', '--memsections', set]);
    const c = (JSON.parse(r.stdout).channels as { name: string; slot: number }[]).find((x) => x.name === name);
    if (!c) throw new Error(`no channel ${name} in status`);
    return c.slot;
  }

  const ringField = (slot: number, dir: number, field: number) => L.tableOffset + slot * L.entrySize + L.entryRing + dir * L.ringStateSize + field;

  it('answers EIO on a channel whose ring holds more than it can, says why in the log, and check names it', async () => {
    await mkfifo(lab(), a('bad'));
    const slot = await slotOf('bad');
    const ringSize = Number((await lab().cli(['status', '--json', '--memsections', set])).stdout.match(/"ringSize": (\d+)/)![1]);
    writeU64(controlFd, ringField(slot, 0, L.ringHead), BigInt(ringSize * 4)); // tail is 0: four rings' worth queued

    const r = await lab().proc('cat', [b('bad')], { timeoutMs: 10_000 }).done;
    expect(r.timedOut, 'the reader is answered, not left waiting').to.equal(false);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('Input/output error');
    const log = fs.readFileSync(lab().path('b.log'), 'utf8');
    expect(log).to.match(/"why":"channel \\"bad\\" \(slot \d+\) a->b: \d+ bytes queued in a ring of \d+"/);

    const c = await lab().cli(['check', '--memsections', set]);
    expect(c.code, 'check exits 1 on damage').to.equal(1);
    expect(c.stdout).to.include(`channel "bad" (slot ${slot}) a->b: ${ringSize * 4} bytes queued in a ring of ${ringSize}`);

    // The other channels are not affected.
    await mkfifo(lab(), a('good'));
    const reader = lab().proc('cat', [b('good')], { timeoutMs: 10_000 });
    await lab().sh('echo fine > "$1"', [a('good')], { timeoutMs: 10_000 }).done;
    expect((await reader.done).stdout).to.equal('fine\n');
    await fs.promises.unlink(a('bad'));
  });

  it('check names a side whose notifier or doorbell id is impossible', async () => {
    const side = (field: number) => L.sideState + L.sideStateSize + field; // side b
    const mode = Buffer.alloc(4);
    fs.readSync(controlFd, mode, 0, 4, side(L.sideNotifyMode));
    writeU32(controlFd, side(L.sideNotifyMode), 7);
    writeU32(controlFd, side(L.sideDoorbellId), 0x12345);
    try {
      const c = await lab().cli(['check', '--memsections', set]);
      expect(c.code, 'check exits 1 on damage').to.equal(1);
      expect(c.stdout).to.include('side b: notifier is none of poll, futex, doorbell');
      expect(c.stdout).to.include(`side b: doorbell peer id ${0x12345} is beyond 65535`);
    } finally {
      fs.writeSync(controlFd, mode, 0, 4, side(L.sideNotifyMode));
      writeU32(controlFd, side(L.sideDoorbellId), 0);
    }
  });

  it('survives random and adversarial values written all over it during transfers: no crash, no hang, no spinning', async () => {
    const names = ['s0', 's1', 's2', 's3'];
    for (const n of names) await mkfifo(lab(), a(n));
    const running: Proc[] = [];
    for (const n of names) {
      running.push(lab().sh('exec cat "$1" > /dev/null', [b(n)], { timeoutMs: 80_000 }));
      running.push(lab().sh('exec dd if=/dev/zero of="$1" bs=64K count=100000 status=none', [a(n)], { timeoutMs: 80_000 }));
    }
    await delay(500);

    const controlSize = fs.fstatSync(controlFd).size;
    const adversarial32 = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 1 << 20];
    const adversarial64 = [0n, 1n, 1n << 63n, (1n << 64n) - 1n, 1n << 32n, 1n << 40n];
    // Every field a running peer writes: side states, lock, entries, ring states.
    const hot: number[] = [L.tableLock, ...[0, 1].flatMap((s) => [0, 4, 8, 16, 20, 64].map((f) => L.sideState + s * L.sideStateSize + f))];
    for (let slot = 0; slot < 8; slot++) {
      const e = L.tableOffset + slot * L.entrySize;
      hot.push(e + L.entryState, e + L.entryGeneration, e + L.entryName, e + L.entryName + 60, e + L.entrySideOpen, e + L.entrySideOpen + 4);
      for (const dir of [0, 1]) for (const f of [0, 8, 12, 16, 20, 64, 72, 76, 80, 84]) hot.push(ringField(slot, dir, f));
    }
    let writes = 0;
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      for (let i = 0; i < 50; i++, writes++) {
        const off = Math.random() < 0.7 ? hot[Math.floor(Math.random() * hot.length)] : Math.floor((Math.random() * controlSize) / 4) * 4;
        if (Math.random() < 0.5 && off % 8 === 0 && off + 8 <= controlSize) writeU64(controlFd, off, adversarial64[Math.floor(Math.random() * adversarial64.length)]);
        else if (Math.random() < 0.5) writeU32(controlFd, off, adversarial32[Math.floor(Math.random() * adversarial32.length)]);
        else writeU32(controlFd, off, Math.floor(Math.random() * 2 ** 32));
      }
      // Both mounts keep answering while it happens.
      await within(listing(A.mountpoint), 5_000, 'ls of side a during the scribbling');
      await within(listing(B.mountpoint), 5_000, 'ls of side b during the scribbling');
      await delay(20);
    }
    expect(writes).to.be.above(1000);
    expect(isAlive(A.pid) && isAlive(B.pid), 'both daemons are alive').to.equal(true);

    // Whatever state the channels were left in, every program can be interrupted.
    for (const p of running) if (p.running) p.kill('SIGINT');
    for (const p of running) {
      const r = await within(p.done, 5_000, 'a transfer program ending on SIGINT');
      expect(r.timedOut).to.equal(false);
    }

    // Not spinning: over two quiet seconds each daemon uses well under a core.
    const before = [cpuSeconds(A.pid), cpuSeconds(B.pid)];
    await delay(2_000);
    const used = [cpuSeconds(A.pid) - before[0], cpuSeconds(B.pid) - before[1]];
    expect(Math.max(...used), `CPU seconds used by the daemons in 2 s: ${used}`).to.be.below(1);

    // check reports: 0 nothing, 1 damaged channels or sides, 2 a header it refuses (with the reason).
    const c = await lab().cli(['check', '--memsections', set]);
    expect([0, 1, 2], `check ends with a report, not a failure: ${c.stderr}`).to.include(c.code);
    // Exit 2 names the control memsection and what is wrong with its header.
    expect(c.stdout + c.stderr).to.match(c.code === 2 ? /^intervmfs: memsection control \(.+\) .+/ : /consistent|problem/);
    for (const m of [A, B]) {
      const u = await lab().cli(['unmount', '--force', m.mountpoint]);
      expect(u.code, u.stderr).to.equal(0);
    }
  });
});
