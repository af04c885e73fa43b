// What the CLI refuses, how it says so, and that a refused mount leaves no
// mount and no daemon behind; unmount with descriptors open.
import { expect } from 'chai';
import fs from 'fs';
import fsp from 'fs/promises';
import path from 'path';
import { addon } from '../../src/native';
import { delay, isAlive, isMounted, listing, mkfifo, processesMentioning, RunResult, useLab, waitUntil } from './mounts';

/** A refusal: non-zero exit that is not the "unexpected failure" (70), and the message on stderr. */
function expectRefusal(r: RunResult, message: string): void {
  expect(r.timedOut, 'the command ended by itself').to.equal(false);
  expect(r.code, `exit code (stderr: ${r.stderr})`).to.be.a('number').and.not.equal(0);
  expect(r.code, 'not reported as an internal bug').not.to.equal(70);
  expect(r.stderr).to.include(message);
  expect(r.stderr).not.to.include('unexpected failure');
  expect(r.stdout).not.to.match(/^mounted /m);
}

/** After a refused mount: nothing mounted there and no daemon for it. */
async function expectNothingMounted(mountpoint: string): Promise<void> {
  expect(isMounted(mountpoint), `${mountpoint} is not mounted`).to.equal(false);
  await waitUntil(() => processesMentioning(mountpoint).filter(isAlive).length === 0, 3_000, `no process serves ${mountpoint}`);
}

async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

describe('integration: CLI refusals', function () {
  const lab = useLab('cli');
  let mnt: string;

  before(async () => {
    mnt = await lab().mountpoint('mnt');
  });

  it('refuses to mount a memsection set that does not exist, saying how to create it', async () => {
    const missing = lab().path('no-such-set');
    const r = await lab().tryMount(mnt, missing, 'a');
    expectRefusal(r, `memsection set ${missing} does not exist; create it with \`intervmfs format --memsections ${missing}\``);
    await expectNothingMounted(mnt);
  });

  it('refuses to mount an unformatted set (three zero-filled files)', async () => {
    const set = lab().path('zeros');
    await fsp.mkdir(set);
    await fsp.writeFile(path.join(set, 'control'), Buffer.alloc(8192));
    await fsp.writeFile(path.join(set, 'data0'), Buffer.alloc(65536));
    await fsp.writeFile(path.join(set, 'data1'), Buffer.alloc(65536));
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, `memsection control (${path.join(set, 'control')}) is not formatted; run \`intervmfs format\``);
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a set whose control header has a flipped magic byte', async () => {
    const set = await lab().format('bad-magic');
    await flipByte(path.join(set, 'control'), 0);
    const r = await lab().tryMount(mnt, set, 'b');
    expectRefusal(r, 'does not hold an intervmfs header (bad magic)');
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a set of another layout version, naming both versions', async () => {
    const set = await lab().format('other-version');
    const fh = await fsp.open(path.join(set, 'control'), 'r+');
    const v = Buffer.alloc(4);
    v.writeUInt32LE(addon.constants.layoutVersion + 1);
    await fh.write(v, 0, 4, addon.layout.layoutVersion);
    await fh.close();
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, `has layout version ${addon.constants.layoutVersion + 1}, this intervmfs understands ${addon.constants.layoutVersion}`);
    await expectNothingMounted(mnt);
  });

  it('refuses options out of range before touching anything', async () => {
    const set = lab().path('never-made');
    for (const [args, message] of [
      [['--channels', '0'], 'must be a whole number from 1 to 4096'],
      [['--channels', '4097'], 'must be a whole number from 1 to 4096'],
      [['--data-size', '12parsecs'], 'size'],
    ] as const) {
      const r = await lab().cli(['format', '--memsections', set, ...args]);
      expectRefusal(r, message);
    }
    expect(fs.existsSync(set), 'nothing was created').to.equal(false);
  });

  it('creates memsection files readable and writable by their owner only', async () => {
    const set = await lab().format('private');
    expect(fs.statSync(set).mode & 0o777, 'folder').to.equal(0o700);
    for (const f of ['control', 'data0', 'data1']) expect(fs.statSync(path.join(set, f)).mode & 0o777, f).to.equal(0o600);
  });

  it('refuses to mount a set whose header was scribbled on (checksum)', async () => {
    const set = await lab().format('bad-header');
    await flipByte(path.join(set, 'control'), 12); // a byte of the channel capacity
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, 'header is corrupt (checksum mismatch)');
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a set whose data memsections differ in size (data1 truncated)', async () => {
    const set = await lab().format('mismatch');
    await fsp.truncate(path.join(set, 'data1'), 64 * 1024);
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, `data memsections differ in size: ${path.join(set, 'data0')} has 131072 bytes, ${path.join(set, 'data1')} has 65536`);
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a set whose data memsections are smaller than its header says', async () => {
    const set = await lab().format('shrunk');
    await fsp.truncate(path.join(set, 'data0'), 64 * 1024);
    await fsp.truncate(path.join(set, 'data1'), 64 * 1024);
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, `memsection data0 (${path.join(set, 'data0')}) has 65536 bytes, the header says 131072`);
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a set whose control memsection is shorter than a header', async () => {
    const set = await lab().format('short-control');
    await fsp.truncate(path.join(set, 'control'), 100);
    const r = await lab().tryMount(mnt, set, 'a');
    expectRefusal(r, 'has 100 bytes, less than a header');
    await expectNothingMounted(mnt);
  });

  it('refuses to format a set too small for the channels asked, and says what is needed', async () => {
    const set = lab().path('too-small');
    const r = await lab().cli(['format', '--memsections', set, '--channels', '4', '--data-size', '16K']);
    expectRefusal(r, 'data memsections of 16384 bytes give each of 4 channels a ring of 4096 bytes; at least 8192 are needed');
  });

  it('refuses a mount point whose parent folder does not exist, saying how to create it', async () => {
    const set = await lab().format('for-mountpoints');
    const nowhere = path.join(lab().path('no-such-dir'), 'mnt');
    lab().track(nowhere);
    const r = await lab().cli(['mount', nowhere, '--memsections', set, '--side', 'a']);
    expectRefusal(r, `mount point ${nowhere} does not exist, nor its parent folder; create it with mkdir -p ${nowhere}`);
    expect(fs.existsSync(path.dirname(nowhere)), 'no folder was created').to.equal(false);
    await expectNothingMounted(nowhere);
  });

  it('creates a missing mount point whose parent exists (mount mount/a on a fresh clone)', async () => {
    const set = lab().path('for-mountpoints');
    const fresh = lab().path('fresh-mnt');
    lab().track(fresh);
    const r = await lab().cli(['mount', fresh, '--memsections', set, '--side', 'a']);
    expect(r.code, r.stderr).to.equal(0);
    expect(isMounted(fresh), 'mounted on the folder it created').to.equal(true);
    const u = await lab().cli(['unmount', fresh]);
    expect(u.code, u.stderr).to.equal(0);
    await expectNothingMounted(fresh);
  });

  it('refuses a mount point that is a file', async () => {
    const set = lab().path('for-mountpoints');
    const file = lab().path('a-file');
    await fsp.writeFile(file, 'x');
    const r = await lab().tryMount(file, set, 'a');
    expectRefusal(r, `mount point ${file} is not a directory`);
    await expectNothingMounted(file);
  });

  it('refuses an unknown side or notifier before doing anything', async () => {
    const set = lab().path('for-mountpoints');
    const side = await lab().tryMount(mnt, set, 'c' as 'a');
    expect(side.code).to.not.equal(0);
    expect(side.stderr).to.include("option '--side <side>' argument 'c' is invalid");
    const notify = await lab().tryMount(mnt, set, 'a', ['--notify', 'carrier-pigeon']);
    expect(notify.code).to.not.equal(0);
    expect(notify.stderr).to.include("argument 'carrier-pigeon' is invalid");
    await expectNothingMounted(mnt);
  });

  it('refuses to mount a side that is already served, and a mount point already mounted; the first mount keeps working', async function () {
    this.timeout(30_000);
    const set = await lab().format('served');
    const first = await lab().mount('served-a', set, 'a');
    await mkfifo(lab(), path.join(first.mountpoint, 'still-here'));

    const other = await lab().mountpoint('served-a-again');
    const again = await lab().tryMount(other, set, 'a');
    expectRefusal(again, `side a of this memsection set is already served by pid ${first.pid}`);
    expect(again.stderr).to.include('mount the other side, or unmount that one first');
    await expectNothingMounted(other);

    const busy = await lab().tryMount(first.mountpoint, set, 'b');
    expectRefusal(busy, `mount point ${first.mountpoint} is busy: intervmfs is already mounted there`);

    expect(isMounted(first.mountpoint)).to.equal(true);
    expect(isAlive(first.pid), 'the first daemon still runs').to.equal(true);
    expect(await listing(first.mountpoint)).to.deep.equal(['still-here']);
  });

  it('refuses to format a formatted set without --force and keeps its channels; refuses even with --force while it is mounted', async function () {
    this.timeout(30_000);
    const set = lab().path('served');
    const r = await lab().cli(['format', '--memsections', set]);
    expectRefusal(r, `memsection set ${set} is already formatted; add --force to erase its channels and format it again`);
    const forced = await lab().cli(['format', '--memsections', set, '--force']);
    expectRefusal(forced, `memsection set ${set} is in use by side a`);
    expect(await listing(lab().path('served-a'))).to.deep.equal(['still-here']);
  });

  it('refuses to unmount a folder that is not mounted', async () => {
    const plain = await lab().mountpoint('plain');
    const r = await lab().cli(['unmount', plain]);
    expectRefusal(r, `${plain} is not mounted`);
    const none = lab().path('does-not-exist');
    const r2 = await lab().cli(['unmount', none]);
    expectRefusal(r2, `${none} is not mounted`);
  });
});

describe('integration: unmount with descriptors open', function () {
  const lab = useLab('busy');

  /** Whether process `pid` holds a descriptor on `file` (from /proc, not the mount). */
  function holds(pid: number, file: string): boolean {
    try {
      return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  it('refuses while a channel is open, naming it; --force unmounts and the blocked reader gets an error instead of hanging', async function () {
    this.timeout(40_000);
    const { a, b } = await lab().pair();
    const chan = path.join(a.mountpoint, 'held');
    await mkfifo(lab(), chan);
    // A reader blocked on the empty channel holds a descriptor on side a.
    const cat = lab().proc('cat', [chan], { timeoutMs: 30_000 });
    await waitUntil(() => holds(cat.pid, chan), 10_000, 'cat has the channel open');

    const refused = await lab().cli(['unmount', a.mountpoint]);
    expectRefusal(refused, `channels are open on ${a.mountpoint}: held (1); close them first or use --force`);
    expect(isMounted(a.mountpoint), 'still mounted after the refusal').to.equal(true);
    expect(isAlive(a.pid), 'the daemon still runs').to.equal(true);
    await delay(100);
    expect(cat.running, 'the reader still waits').to.equal(true);

    const forced = await lab().cli(['unmount', '--force', a.mountpoint]);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stdout).to.include(`unmounted ${a.mountpoint}`);
    expect(isMounted(a.mountpoint)).to.equal(false);
    expect(isAlive(a.pid), 'the daemon is gone').to.equal(false);

    const r = await cat.done;
    expect(r.timedOut, 'the blocked reader was answered').to.equal(false);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('Input/output error');

    // The other side is untouched, and unmounts without --force.
    expect(await listing(b.mountpoint)).to.deep.equal(['held']);
    const plain = await lab().cli(['unmount', b.mountpoint]);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(isMounted(b.mountpoint)).to.equal(false);
  });
});
