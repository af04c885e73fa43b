// The shared directory: channels made with mknod on one side show on the
// other, with the attributes a user expects, and go away for both sides.
import { expect } from 'chai';
import fsp from 'fs/promises';
import path from 'path';
import { errnoOf, listing, mkfifo, statOf, usePair } from './mounts';

describe('integration: channels in the shared directory', function () {
  const { lab, A, B, a, b } = usePair('ns');

  it('starts empty on both sides', async () => {
    expect(await listing(A().mountpoint)).to.deep.equal([]);
    expect(await listing(B().mountpoint)).to.deep.equal([]);
  });

  it('shows a channel made with mknod on side a on side b, and one made on side b on side a', async () => {
    await mkfifo(lab(), a('from-a'));
    await mkfifo(lab(), b('from-b'));
    expect(await listing(A().mountpoint)).to.deep.equal(['from-a', 'from-b']);
    expect(await listing(B().mountpoint)).to.deep.equal(['from-a', 'from-b']);
    expect((await statOf(b('from-a'))).isFile()).to.equal(true);
    expect((await statOf(a('from-b'))).isFile()).to.equal(true);
  });

  it('gives a channel the permission bits of mknod after the umask, the creator as owner, and a regular file type on both sides', async () => {
    await mkfifo(lab(), a('mode-027'), '027');
    await mkfifo(lab(), b('mode-002'), '002');
    for (const file of [a('mode-027'), b('mode-027')]) {
      const st = await statOf(file);
      expect(st.mode & 0o7777, `${file} mode`).to.equal(0o640);
      expect(st.isFile(), `${file} is a regular file`).to.equal(true);
      expect(st.isFIFO(), `${file} is not a FIFO inode`).to.equal(false);
      expect(st.uid).to.equal(process.getuid!());
      expect(st.gid).to.equal(process.getgid!());
      expect(st.size).to.equal(0);
    }
    for (const file of [a('mode-002'), b('mode-002')]) {
      const st = await statOf(file);
      expect(st.mode & 0o7777, `${file} mode`).to.equal(0o664);
      expect(st.isFile()).to.equal(true);
    }
  });

  it('shows the mount root as a directory anyone may add channels to, like /tmp (mode 1777)', async () => {
    const st = await statOf(A().mountpoint);
    expect(st.isDirectory()).to.equal(true);
    expect(st.mode & 0o7777).to.equal(0o1777);
  });

  describe('as an unprivileged user (uid 65534)', function () {
    // setpriv drops to nobody; the lab folder must let nobody walk to the mounts.
    const asNobody = (script: string, args: string[]) =>
      lab().proc('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sh', '-c', script, 'sh', ...args], { timeoutMs: 10_000 }).done;
    before(async () => {
      await fsp.chmod(lab().dir, 0o755);
    });

    it('makes a channel owned by that user, on both sides', async () => {
      const r = await asNobody('umask 077 && mknod "$1" p', [a('nobodys')]);
      expect(r.code, r.stderr).to.equal(0);
      for (const file of [a('nobodys'), b('nobodys')]) {
        const st = await statOf(file);
        expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, file).to.deep.equal({ uid: 65534, gid: 65534, mode: 0o600 });
      }
    });

    it("is refused opening another user's 0600 channel, and removing it, by the kernel", async () => {
      await mkfifo(lab(), a('roots'), '077');
      const open = await asNobody('exec 3< "$1"', [b('roots')]);
      expect(open.code).not.to.equal(0);
      expect(open.stderr).to.include('Permission denied');
      const rm = await asNobody('rm -f "$1"', [b('roots')]);
      expect(rm.code).not.to.equal(0);
      expect(rm.stderr).to.include('Operation not permitted');
      expect(await listing(A().mountpoint)).to.include('roots');
    });
  });

  it('answers ENOENT for a name that is no channel, on both sides', async () => {
    expect(await errnoOf(fsp.stat(a('nothing-here')))).to.equal('ENOENT');
    expect(await errnoOf(fsp.stat(b('nothing-here')))).to.equal('ENOENT');
    expect(await errnoOf(fsp.unlink(b('nothing-here')))).to.equal('ENOENT');
  });

  it('removes a channel for both sides when either side unlinks it', async () => {
    await mkfifo(lab(), a('gone-via-b'));
    await mkfifo(lab(), b('gone-via-a'));
    expect(await listing(B().mountpoint)).to.include.members(['gone-via-b', 'gone-via-a']);

    await fsp.unlink(b('gone-via-b'));
    await fsp.unlink(a('gone-via-a'));

    for (const mnt of [A().mountpoint, B().mountpoint]) {
      const names = await listing(mnt);
      expect(names, mnt).not.to.include('gone-via-b');
      expect(names, mnt).not.to.include('gone-via-a');
    }
    expect(await errnoOf(fsp.stat(a('gone-via-b')))).to.equal('ENOENT');
    expect(await errnoOf(fsp.stat(b('gone-via-a')))).to.equal('ENOENT');
  });

  it('lets a name be made again after it was unlinked', async () => {
    await mkfifo(lab(), a('again'));
    await fsp.unlink(a('again'));
    await mkfifo(lab(), b('again'));
    expect(await listing(A().mountpoint)).to.include('again');
    expect((await statOf(a('again'))).isFile()).to.equal(true);
  });
});
