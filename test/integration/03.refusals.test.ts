// Everything that is not a FIFO channel is refused, with the errno a user
// sees from the system call, and the refusal leaves the directory as it was.
import { expect } from 'chai';
import fsp from 'fs/promises';
import path from 'path';
import { errnoOf, listing, mkfifo, mknodErrno, probe, usePair } from './mounts';

describe('integration: refusals by errno', function () {
  const { lab, A, B, a, b } = usePair('refuse');

  before(async () => {
    await mkfifo(lab(), a('chan'));
  });

  afterEach(async () => {
    // Whatever a test tried, only the channels it made on purpose are there.
    const names = await listing(B().mountpoint);
    for (const stray of ['regular', 'chardev', 'sock', 'created', 'dir', 'renamed', 'hardlink', 'symlink']) {
      expect(names, `no ${stray} appeared`).not.to.include(stray);
    }
  });

  it('accepts mknod of a FIFO (the control case for the refusals below)', async () => {
    expect(await mknodErrno(a('fifo-ok'), 'fifo')).to.equal('OK');
    expect(await listing(B().mountpoint)).to.include('fifo-ok');
  });

  it('refuses mknod of a regular file with EPERM', async () => {
    expect(await mknodErrno(a('regular'), 'reg')).to.equal('EPERM');
  });

  it('refuses mknod of a character device with EPERM', async () => {
    expect(await mknodErrno(b('chardev'), 'chr')).to.equal('EPERM');
  });

  it('refuses a unix socket (bind) with EPERM', async () => {
    expect(await mknodErrno(a('sock'), 'sock')).to.equal('EPERM');
  });

  it('refuses open(O_CREAT) of a new name with EPERM', async () => {
    expect(await errnoOf(fsp.open(a('created'), 'w'))).to.equal('EPERM');
    expect(await errnoOf(fsp.open(b('created'), 'wx'))).to.equal('EPERM');
  });

  it('refuses mkdir with EPERM', async () => {
    expect(await errnoOf(fsp.mkdir(a('dir')))).to.equal('EPERM');
  });

  it('refuses rename of a channel with EPERM and keeps the channel', async () => {
    expect(await errnoOf(fsp.rename(a('chan'), a('renamed')))).to.equal('EPERM');
    expect(await listing(B().mountpoint)).to.include('chan');
  });

  it('refuses a hard link with EPERM', async () => {
    expect(await errnoOf(fsp.link(a('chan'), a('hardlink')))).to.equal('EPERM');
  });

  it('refuses a symlink with EPERM', async () => {
    expect(await errnoOf(fsp.symlink('chan', b('symlink')))).to.equal('EPERM');
  });

  it('takes chmod and chown of a channel (seen from the other side), and refuses chmod of the mount root with EPERM', async () => {
    await fsp.chmod(a('chan'), 0o600);
    await fsp.chown(a('chan'), 1, 2);
    const st = await fsp.stat(b('chan'));
    expect([st.mode & 0o7777, st.uid, st.gid]).to.deep.equal([0o600, 1, 2]);
    await fsp.chown(a('chan'), 0, 0);
    await fsp.chmod(a('chan'), 0o644);
    expect(await errnoOf(fsp.chmod(A().mountpoint, 0o700))).to.equal('EPERM');
  });

  it('accepts a name of 63 bytes and refuses 64 bytes with ENAMETOOLONG (bytes, not characters)', async () => {
    expect(await mknodErrno(a('n'.repeat(63)), 'fifo')).to.equal('OK');
    expect(await listing(B().mountpoint)).to.include('n'.repeat(63));
    expect(await mknodErrno(a('m'.repeat(64)), 'fifo')).to.equal('ENAMETOOLONG');
    // 32 two-byte characters: 64 bytes.
    expect(await mknodErrno(b('é'.repeat(32)), 'fifo')).to.equal('ENAMETOOLONG');
    const names = await listing(A().mountpoint);
    expect(names).not.to.include('m'.repeat(64));
    expect(names).not.to.include('é'.repeat(32));
  });

  it('cannot make a channel with an empty name or a / in it: the kernel answers ENOENT before asking us', async () => {
    expect(await mknodErrno(a(''), 'fifo')).to.equal('EEXIST'); // the mount root itself
    expect(await mknodErrno(a('sub/name'), 'fifo')).to.equal('ENOENT');
    expect(await mknodErrno(a('chan/name'), 'fifo')).to.equal('ENOTDIR');
  });

  it('answers a zero-length read with 0 at once, and carries a single write larger than the ring whole', async () => {
    await mkfifo(lab(), a('big-write'));
    const size = 3 * 128 * 1024 + 5; // several 128 KiB rings in one write(2)
    const reader = lab().sh('cat "$1" > "$3"; wc -c < "$3"; cmp "$3" "$2" && echo same', [b('big-write'), lab().path('big-write.expected'), lab().path('big-write.got')], {
      timeoutMs: 20_000,
    });
    const r = await probe<{ zero: number; wrote: number }>(
      `const data = Buffer.alloc(${size});
       for (let i = 0; i < data.length; i++) data[i] = i % 251;
       fs.writeFileSync(args[2], data);
       const probeFd = fs.openSync(args[1], 'r');
       const zero = fs.readSync(probeFd, Buffer.alloc(0), 0, 0, null);
       fs.closeSync(probeFd);
       const w = fs.openSync(args[0], 'w');
       const wrote = fs.writeSync(w, data);
       fs.closeSync(w);
       done({ zero, wrote });`,
      [a('big-write'), b('big-write'), lab().path('big-write.expected')],
      20_000,
    );
    expect(r).to.deep.equal({ zero: 0, wrote: size });
    const got = await reader.done;
    expect(got.stdout.split('\n').map((l) => l.trim()), got.stderr).to.deep.equal([String(size), 'same', '']);
  });

  it('refuses a duplicate mknod with EEXIST, from either side', async () => {
    await mkfifo(lab(), a('twice'));
    expect(await mknodErrno(a('twice'), 'fifo')).to.equal('EEXIST');
    expect(await mknodErrno(b('twice'), 'fifo')).to.equal('EEXIST');
    expect((await listing(B().mountpoint)).filter((n) => n === 'twice')).to.have.length(1);
  });
});

describe('integration: a full channel table', function () {
  const { A, B } = usePair('full', 'futex', ['--channels', '2', '--data-size', '16K']);

  it('refuses a channel beyond the capacity with ENOSPC, on either side, and takes one again after an unlink', async () => {
    expect(await mknodErrno(path.join(A().mountpoint, 'one'), 'fifo')).to.equal('OK');
    expect(await mknodErrno(path.join(B().mountpoint, 'two'), 'fifo')).to.equal('OK');
    expect(await mknodErrno(path.join(A().mountpoint, 'three'), 'fifo')).to.equal('ENOSPC');
    expect(await mknodErrno(path.join(B().mountpoint, 'three'), 'fifo')).to.equal('ENOSPC');
    expect(await listing(A().mountpoint)).to.deep.equal(['one', 'two']);
    await fsp.unlink(path.join(B().mountpoint, 'one'));
    expect(await mknodErrno(path.join(A().mountpoint, 'three'), 'fifo')).to.equal('OK');
    expect(await listing(B().mountpoint)).to.deep.equal(['three', 'two']);
  });
});
