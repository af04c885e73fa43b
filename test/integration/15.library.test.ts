// The library (src/lib): a program in this process holds side a of a set
// and reads and writes its channels with no mount of its own, while `cat`,
// `echo` and `head` use the same channels on a mount of side b. Checked:
// bytes both ways through a ring much smaller than the payload (so both
// ends wait on the other), end of file each way, EPIPE, ENOENT and create,
// the side claimed as a mount claims it, and a program that exits by
// itself once its streams are done.
import { expect } from 'chai';
import crypto from 'crypto';
import fsp from 'fs/promises';
import path from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { ChannelError, ChannelStream, openChannel, OpenChannelOptions } from '../../src/lib';
import { listing, MountInfo, ROOT, useLab, within } from './mounts';

const MiB = 1024 * 1024;
// 8 channels in 128 KiB data memsections: 16 KiB rings, so 8 MiB goes
// round each ring 512 times.
const FORMAT = ['--channels', '8', '--data-size', '128K'];

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Resolves once the stream has claimed its side and opened its channel; rejects with its error. */
function ready(s: ChannelStream): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('ready', resolve);
    s.once('error', reject);
  });
}

function closed(s: ChannelStream): Promise<void> {
  return new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
}

/** The error a stream ends with (none: the test fails at its timeout). */
function failure(s: ChannelStream): Promise<ChannelError> {
  return new Promise((resolve) => s.once('error', (err: ChannelError) => resolve(err)));
}

/** Everything the library reads from `s` until its end. */
async function readAll(s: ChannelStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of s) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function* chunksOf(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/**
 * A lab with a formatted set and side b mounted; channel() opens library
 * streams on side a, every one of which is destroyed after each test
 * whatever happened, so the library's side is detached before the next.
 */
function useLibraryLab(tag: string, notify: 'futex' | 'poll') {
  const lab = useLab(tag);
  const env: { set?: string; B?: MountInfo } = {};
  const streams: ChannelStream[] = [];
  before(async function () {
    this.timeout(30_000);
    env.set = await lab().format('set', FORMAT);
    env.B = await lab().mount('b', env.set, 'b', ['--notify', notify]);
  });
  afterEach(async function () {
    this.timeout(30_000);
    const open = streams.splice(0);
    for (const s of open) s.destroy();
    await within(Promise.all(open.map(closed)), 10_000, 'closing the library streams');
  });
  const set = () => env.set!;
  return {
    lab,
    set,
    B: () => env.B!,
    /** A channel's path on the mount of side b. */
    b: (name: string) => path.join(env.B!.mountpoint, name),
    channel(o: Pick<OpenChannelOptions, 'name' | 'mode'> & Partial<OpenChannelOptions>): ChannelStream {
      const s = openChannel({ memsections: set(), side: 'a', notify, ...o });
      s.on('error', () => undefined); // each test asserts the errors it expects; none may go uncaught
      streams.push(s);
      return s;
    },
  };
}

for (const notify of ['futex', 'poll'] as const) {
  describe(`integration: the library on side a, a mount on side b (notify ${notify})`, function () {
    const { lab, b, channel } = useLibraryLab(`lib-${notify}`, notify);

    it('writes 8 MiB that `cat` on the mount reads whole, through a 16 KiB ring', async () => {
      const payload = crypto.randomBytes(8 * MiB);
      const ch = channel({ name: 'to-b', mode: 'w', create: true });
      await ready(ch);
      const cat = lab().proc('cat', [b('to-b')], { timeoutMs: 45_000 });
      // pipeline: each 64 KiB write waits for the stream's drain (backpressure),
      // and the stream's end is the channel's end of file.
      await within(pipeline(Readable.from(chunksOf(payload, 64 * 1024)), ch), 45_000, 'the library writer');
      const r = await cat.done;
      expect(r.timedOut, 'cat got end of file after the library ended').to.equal(false);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.out.length).to.equal(payload.length);
      expect(sha256(r.out), 'digest of what cat read').to.equal(sha256(payload));
    });

    it('reads to its end, as async iteration, 8 MiB that `cat file >` writes on the mount: the stream ends when the shell writer closes', async () => {
      const payload = crypto.randomBytes(8 * MiB);
      const file = lab().path(`payload-${notify}`);
      await fsp.writeFile(file, payload);
      const ch = channel({ name: 'to-a', mode: 'r', create: true });
      await ready(ch);
      // The library reads (and waits) from now on, before the writer has opened:
      // the reader waits for it instead of ending at once.
      const got = readAll(ch);
      const w = await lab().sh('exec cat "$2" > "$1"', [b('to-a'), file], { timeoutMs: 45_000 }).done;
      expect(w.code, w.stderr).to.equal(0);
      const data = await within(got, 20_000, 'the end of the library reader after the writer closed');
      expect(data.length).to.equal(payload.length);
      expect(sha256(data), 'digest of what the library read').to.equal(sha256(payload));
    });

    it("reads a line that `echo` writes on the mount, then its end of file", async () => {
      const ch = channel({ name: 'echo', mode: 'r', create: true });
      await ready(ch);
      const got = readAll(ch);
      const w = await lab().sh('echo "hello from b" > "$1"', [b('echo')], { timeoutMs: 15_000 }).done;
      expect(w.code, w.stderr).to.equal(0);
      expect((await within(got, 15_000, 'the library reader')).toString()).to.equal('hello from b\n');
    });

    it("gives the mount's `cat` end of file at end() of the writer half, and reads on with the read half until the mount's writer closes", async () => {
      const ch = channel({ name: 'halves', mode: 'rw', create: true });
      await ready(ch);
      const cat = lab().proc('cat', [b('halves')], { timeoutMs: 15_000 });
      ch.end('ping\n');
      const r = await cat.done;
      expect(r.timedOut, 'cat ended: end() is end of file for the peer').to.equal(false);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('ping\n');
      const got = readAll(ch);
      const w = await lab().sh('printf pong > "$1"', [b('halves')], { timeoutMs: 15_000 }).done;
      expect(w.code, w.stderr).to.equal(0);
      expect((await within(got, 15_000, 'the read half')).toString()).to.equal('pong');
      await within(closed(ch), 10_000, 'the stream closing once both halves ended');
    });
  });
}

describe('integration: the library, its errors and its side', function () {
  const { lab, set, B, b, channel } = useLibraryLab('lib-side', 'futex');

  it('fails a writer with EPIPE once the reader on the mount went away', async () => {
    const ch = channel({ name: 'epipe', mode: 'w', create: true });
    await ready(ch);
    const failed = failure(ch);
    const head = lab().proc('head', ['-c', '5', b('epipe')], { timeoutMs: 15_000 });
    const record = Buffer.alloc(4096, 'y');
    // Writes until the stream refuses more; on drain, again (the ring fills
    // while head is starting; once head has gone, a write fails).
    const pump = () => {
      while (!ch.destroyed && ch.write(record));
    };
    ch.on('drain', pump);
    pump();
    const h = await head.done;
    expect(h.code, h.stderr).to.equal(0);
    expect(h.stdout).to.equal('yyyyy');
    const err = await within(failed, 15_000, 'the writer failing');
    expect(err).to.be.instanceOf(Error);
    expect(err.code).to.equal('EPIPE');
    expect(err.syscall).to.equal('write');
  });

  it('refuses a missing channel with ENOENT, and with create makes it, for the mount to list', async () => {
    const missing = channel({ name: 'nowhere', mode: 'r' });
    const err = (await ready(missing).then(
      () => undefined,
      (e: ChannelError) => e,
    )) as ChannelError | undefined;
    expect(err?.code, 'open of a channel nobody made').to.equal('ENOENT');
    expect(await listing(B().mountpoint)).not.to.include('nowhere');

    const made = channel({ name: 'made-by-lib', mode: 'r', create: true });
    await ready(made);
    expect(await listing(B().mountpoint)).to.include('made-by-lib');
  });

  it('holds side a as a mount would: a mount of it is refused while a stream is open, the status names our pid, and it mounts once the last stream closed', async () => {
    const ch = channel({ name: 'hold', mode: 'r', create: true });
    await ready(ch);
    const mnt = await lab().mountpoint('a');
    const refused = await lab().tryMount(mnt, set(), 'a');
    expect(refused.code, 'the mount is refused').to.equal(2);
    expect(refused.stderr).to.include(`side a of this memsection set is already served by pid ${process.pid}`);
    const status = await lab().cli(['status', '--memsections', set()]);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(new RegExp(`^  a: attached pid ${process.pid} on `, 'm'));
    // And the other way round: the library does not take a side a mount holds.
    const onB = openChannel({ memsections: set(), side: 'b', name: 'hold', mode: 'r' });
    const busy = (await ready(onB).then(
      () => undefined,
      (e: ChannelError) => e,
    )) as ChannelError | undefined;
    expect(busy?.code, 'side b is served by the mount').to.equal('EBUSY');
    expect(busy?.message).to.include(`pid ${B().pid}`);

    ch.destroy();
    await within(closed(ch), 10_000, 'the stream closing');
    const mounted = await lab().tryMount(mnt, set(), 'a');
    expect(mounted.code, mounted.stderr).to.equal(0);
    const un = await lab().cli(['unmount', mnt]);
    expect(un.code, un.stderr).to.equal(0);
  });

  it('lets a program exit by itself once its streams have ended, and gives the side up as it exits with one still open', async () => {
    // A child that writes a line on one channel, reads another to its end,
    // leaves a third open and unread, and does nothing else: no exit call,
    // no timer. Neither the side's heartbeat nor its onReady function may
    // hold its event loop. It loads the package by its root, as a
    // dependent program would (package.json's main).
    const script = `
      const { openChannel } = require(${JSON.stringify(ROOT)});
      const [set] = process.argv.slice(1);
      const w = openChannel({ memsections: set, side: 'a', name: 'from-child', mode: 'w', create: true });
      const r = openChannel({ memsections: set, side: 'a', name: 'to-child', mode: 'r', create: true });
      const idle = openChannel({ memsections: set, side: 'a', name: 'idle', mode: 'r', create: true });
      let got = '';
      r.on('data', (d) => (got += d));
      r.on('end', () => console.log(JSON.stringify({ got })));
      Promise.all([w, r, idle].map((s) => new Promise((ok) => s.once('ready', ok)))).then(() => console.log('ready'));
      w.end('from the child\\n');
    `;
    const child = lab().proc(process.execPath, ['-e', script, set()], { timeoutMs: 20_000 });
    await child.waitForOutput('ready', 15_000);
    const cat = await lab().proc('cat', [b('from-child')], { timeoutMs: 15_000 }).done;
    expect(cat.code, cat.stderr).to.equal(0);
    expect(cat.stdout).to.equal('from the child\n');
    const w = await lab().sh('printf "to the child" > "$1"', [b('to-child')], { timeoutMs: 15_000 }).done;
    expect(w.code, w.stderr).to.equal(0);
    const r = await child.done;
    expect(r.timedOut, `the child exited by itself (stdout ${r.stdout}, stderr ${r.stderr})`).to.equal(false);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n').pop()).to.equal(JSON.stringify({ got: 'to the child' }));
    const status = await lab().cli(['status', '--memsections', set()]);
    expect(status.stdout, 'the exiting child detached side a').to.match(/^  a: detached/m);
  });
});
