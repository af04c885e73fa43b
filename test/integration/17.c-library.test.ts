// The C library (native/intervmfs.h), as a C user meets it: its example
// program intervmfs-cat holds side a of a set in-process while cat, head
// and the bench's peer use the same channels on a mount of side b, and the
// bench's peer (clib: endpoints) talks to itself across two C processes.
// Checked: bytes both ways through rings much smaller than the payload, end
// of file when the C program closes, EPIPE when the mount's reader closes,
// the side refused while a mount serves it, a killed C program ending its
// channels for the mount by its stopped heartbeat, and its side taken over.
import { expect } from 'chai';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { addon } from '../../src/native';
import { MountInfo, Proc, ROOT, useLab, waitUntil, within } from './mounts';

const CAT = path.join(ROOT, 'build', 'Release', 'intervmfs-cat');
const PEER = path.join(ROOT, 'build', 'Release', 'intervmfs-peer');
const MiB = 1024 * 1024;

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('integration: the C library (intervmfs-cat, the peer by clib: endpoints)', function () {
  this.timeout(60_000);
  const lab = useLab('clib');
  let set: string;
  let B: MountInfo;
  const b = (name: string) => path.join(B.mountpoint, name);

  before(async function () {
    this.timeout(30_000);
    // 16 KiB rings (3 MiB goes round each almost 200 times), a channel for each name the tests use.
    set = await lab().format('set', ['--channels', '12', '--data-size', '192K']);
    B = await lab().mount('b', set, 'b');
  });

  /** How many descriptors side a holds open on channel `name`, read from the set. */
  function openOnSideA(name: string): number {
    const ms = new addon.Memsections(['control', 'data0', 'data1'].map((f) => path.join(set, f)));
    try {
      return ms.channels().find((c) => c.name === name && c.state === 'live')?.sideOpen[0] ?? 0;
    } finally {
      ms.close();
    }
  }

  async function finished(p: Proc, what: string) {
    const r = await within(p.done, 30_000, what);
    expect(r.code, `${what}: ${r.stderr}`).to.equal(0);
    return r;
  }

  it('carries 3 MiB from a C writer to cat on the mount, ending at end of file when it closes', async () => {
    const payload = crypto.randomBytes(3 * MiB);
    await lab().proc('mknod', [b('up'), 'p']).done;
    const reader = lab().proc('cat', [b('up')]);
    // cat holds the channel open before the writer starts: its end of file then means the writer closed.
    await waitUntil(() => holds(String(reader.pid), b('up')), 10_000, 'cat opened up');
    const writer = lab().proc(CAT, ['-w', set, 'a', 'up'], { input: payload });
    await finished(writer, 'intervmfs-cat -w');
    const r = await finished(reader, 'cat on the mount');
    expect(sha256(r.out)).to.equal(sha256(payload));
  });

  it('carries 3 MiB from a shell writer on the mount to a C reader, which ends at end of file', async () => {
    const payload = crypto.randomBytes(3 * MiB);
    const file = path.join(lab().dir, 'down.bin');
    fs.writeFileSync(file, payload);
    await lab().proc('mknod', [b('down'), 'p']).done;
    const reader = lab().proc(CAT, [set, 'a', 'down']);
    await waitUntil(() => openOnSideA('down') === 1, 10_000, 'intervmfs-cat opened down');
    await finished(lab().sh('cat "$1" > "$2"', [file, b('down')]), 'the shell writer');
    const r = await finished(reader, 'intervmfs-cat');
    expect(sha256(r.out)).to.equal(sha256(payload));
  });

  it('gives a C writer EPIPE once the reader on the mount has gone, and it exits 1 saying so', async () => {
    await lab().proc('mknod', [b('short'), 'p']).done;
    const head = lab().sh('head -c 100 "$1"', [b('short')]);
    await waitUntil(() => pids().some((p) => holds(p, b('short'))), 10_000, 'head opened short');
    const writer = lab().proc(CAT, ['-w', set, 'a', 'short'], { input: crypto.randomBytes(MiB) });
    const h = await finished(head, 'head on the mount');
    expect(h.out.length).to.equal(100);
    const w = await within(writer.done, 30_000, 'intervmfs-cat -w after its reader went');
    expect(w.code).to.equal(1);
    expect(w.stderr).to.include('Broken pipe');
  });

  it('refuses side b while the mount serves it, naming the holder', async () => {
    const r = await within(lab().proc(CAT, [set, 'b', 'any']).done, 10_000, 'intervmfs-cat on side b');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`side b of ${set} is already served by pid ${B.pid}`);
  });

  it('exchanges 64-byte round trips and 2 MiB with the bench peer on the mount, both ways', async () => {
    for (const name of ['ping-d', 'ping-k', 'bulk-d', 'bulk-k']) await lab().proc('mknod', [b(name), 'p']).done;
    const pong = lab().proc(PEER, ['pong', b('ping-d'), b('ping-k'), '500', '64'], { timeoutMs: 30_000 });
    const ping = lab().proc(PEER, ['ping', `clib:a:${set}:ping-d`, `clib:a:${set}:ping-k`, '500', '64'], { timeoutMs: 30_000 });
    const r = await finished(ping, 'ping through the C library');
    await finished(pong, 'pong on the mount');
    expect(JSON.parse(r.stdout).count).to.equal(500);

    const recv = lab().proc(PEER, ['recv', `clib:a:${set}:bulk-d`, `clib:a:${set}:bulk-k`, String(2 * MiB), '65536', 'verify'], { timeoutMs: 30_000 });
    await waitUntil(() => openOnSideA('bulk-d') === 1, 10_000, 'the C receiver opened bulk-d');
    const send = lab().proc(PEER, ['send', b('bulk-d'), b('bulk-k'), String(2 * MiB), '65536', 'verify'], { timeoutMs: 30_000 });
    const s = await finished(send, 'send on the mount');
    const v = await finished(recv, 'recv through the C library');
    expect(JSON.parse(v.stdout).digest).to.equal(JSON.parse(s.stdout).digest);
  });

  it('a C writer killed with SIGKILL ends the mount reader by its stopped heartbeat, and its side is taken over', async () => {
    await lab().proc('mknod', [b('live'), 'p']).done;
    const reader = lab().proc('cat', [b('live')], { timeoutMs: 30_000 });
    await waitUntil(() => holds(String(reader.pid), b('live')), 10_000, 'cat opened live');
    // Its stdin is a kernel FIFO this test holds open (O_RDWR does not wait
    // for a reader): only the kill ends the writer, and nothing else is left.
    const stdin = lab().path('stdin.fifo');
    await lab().proc('mkfifo', [stdin]).done;
    const held = fs.openSync(stdin, fs.constants.O_RDWR);
    try {
      fs.writeSync(held, 'hello');
      lab().sh('exec "$1" -w "$2" a live < "$3"', [CAT, set, stdin], { timeoutMs: 30_000 });
      await reader.waitForOutput('hello');
      process.kill(pidOf(`${CAT} -w ${set} a live`), 'SIGKILL');
    } finally {
      fs.closeSync(held);
    }
    const r = await finished(reader, 'cat after the C writer was killed');
    expect(r.stdout).to.equal('hello');
    // The dead holder's heartbeat stands still: a new program claims side a.
    const again = await finished(lab().proc(CAT, ['-w', set, 'a', 'after'], { input: '' }), 'intervmfs-cat on the taken-over side');
    expect(again.stderr).to.equal('');
  });

  it('says what is wrong with a set that does not exist, one that is not formatted, and a bad side', async () => {
    const missing = await within(lab().proc(CAT, [lab().path('nowhere'), 'a', 'x']).done, 10_000, 'intervmfs-cat on a missing set');
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include(`memsection set ${lab().path('nowhere')} does not exist`);
    const blank = lab().path('blank');
    fs.writeFileSync(blank, Buffer.alloc(1024 * 1024));
    const unformatted = await within(lab().proc(CAT, [blank, 'a', 'x']).done, 10_000, 'intervmfs-cat on an unformatted file');
    expect(unformatted.code).to.equal(1);
    expect(unformatted.stderr).to.include('is not formatted; run `intervmfs format`');
    const side = await within(lab().proc(CAT, [set, 'c', 'x']).done, 10_000, 'intervmfs-cat on side c');
    expect(side.code).to.equal(1);
    expect(side.stderr).to.include("side must be 'a' or 'b'");
  });

  it('runs between two C programs on sides a and b of a set no mount serves', async () => {
    const other = await lab().format('other', ['--channels', '4', '--data-size', '64K']);
    const pong = lab().proc(PEER, ['pong', `clib:b:${other}:d`, `clib:b:${other}:k`, '1000', '64'], { timeoutMs: 30_000 });
    const ping = lab().proc(PEER, ['ping', `clib:a:${other}:d`, `clib:a:${other}:k`, '1000', '64'], { timeoutMs: 30_000 });
    const r = await finished(ping, 'ping on side a');
    await finished(pong, 'pong on side b');
    const { count, p50 } = JSON.parse(r.stdout);
    expect(count).to.equal(1000);
    expect(p50).to.be.above(0);
  });
});

function readlinkSafe(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
}

/** Whether process `pid` has `file` open. */
function holds(pid: string, file: string): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => readlinkSafe(`/proc/${pid}/fd/${fd}`) === file);
}

const pids = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));

/** The one process whose command line is `cmdline` (arguments joined by spaces). */
function pidOf(cmdline: string): number {
  const found = pids().filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') === cmdline;
      } catch {
        return false;
      }
    });
  if (found.length !== 1) throw new Error(`expected one process "${cmdline}", found ${found.length}`);
  return Number(found[0]);
}
