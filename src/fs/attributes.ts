// getattr, readdir and statfs: what `ls` and `df` show.
import { constants } from 'fs';
import type { Stat } from 'fuse-native';
import { ChannelSummary, Geometry } from '../native';
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

/**
 * A channel as JavaScript would show it; the daemon answers a channel's
 * getattr natively (native/fuse_glue.cc, with the same fields), including
 * the one getattr after a mknod that must show a FIFO.
 */
export function channelStat(c: ChannelSummary): Stat {
  return {
    mode: S_IFREG | (c.mode & 0o7777),
    uid: c.uid,
    gid: c.gid,
    size: 0,
    nlink: 1,
    mtime: new Date(c.mtimeMs),
    atime: new Date(c.atimeMs),
    ctime: new Date(c.ctimeMs),
  };
}

export function statfs(geometry: Geometry, channelsInUse: number) {
  const blocks = Math.floor(geometry.dataSize / 4096);
  return {
    bsize: 4096,
    frsize: 4096,
    blocks,
    bfree: blocks,
    bavail: blocks,
    files: geometry.capacity,
    ffree: Math.max(0, geometry.capacity - channelsInUse),
    favail: Math.max(0, geometry.capacity - channelsInUse),
    fsid: 0,
    flag: 0,
    namemax: addon.constants.nameMax,
  };
}
