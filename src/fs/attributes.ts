// getattr, readdir and statfs: what `ls` and `df` show.
import { constants } from 'fs';
import type { Stat } from 'fuse-native';
import { Geometry } from '../native';
import { addon } from '../native';

const S_IFDIR = constants.S_IFDIR;
// Channel files are regular files served with direct I/O: an inode reported
// as S_IFIFO would be handled by the kernel's own pipe code and never reach
// the shared memory (docs/decisions/0002-channels-as-direct-io-files.md).
const S_IFREG = constants.S_IFREG;

/** `changedMs`: when a channel was last made or removed (the directory's mtime and ctime). */
export function rootStat(changedMs: number): Stat {
  const changed = new Date(changedMs);
  return {
    // Like /tmp: any user may make a channel, only its owner may remove it
    // (the kernel applies both, with default_permissions).
    mode: S_IFDIR | 0o1777,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    size: 0,
    nlink: 2,
    mtime: changed,
    atime: changed,
    ctime: changed,
  };
}

/** What df shows: the data and channel slots of every folder of the mount. */
export function statfs(folders: { geometry: Geometry; inUse: number }[]) {
  const blocks = folders.reduce((n, f) => n + Math.floor(f.geometry.dataSize / 4096), 0);
  const files = folders.reduce((n, f) => n + f.geometry.capacity, 0);
  const free = folders.reduce((n, f) => n + Math.max(0, f.geometry.capacity - f.inUse), 0);
  return {
    bsize: 4096,
    frsize: 4096,
    blocks,
    bfree: blocks,
    bavail: blocks,
    files,
    ffree: free,
    favail: free,
    fsid: 0,
    flag: 0,
    namemax: addon.constants.nameMax,
  };
}
