// The FUSE operations of a mount that JavaScript answers: the namespace.
// Each handler is short and answers with a named errno; the channel table is
// the addon's. open, read, write, release and poll of a channel never come
// here: fuse-native hands them to the native FIFO engine on libfuse's thread
// (native/fuse_glue.cc). Everything that is not a FIFO channel is refused.
import { constants } from 'fs';
import type { Callback, Operations } from 'fuse-native';
import { addon, Memsections } from '../native';
import { Errno } from '../errno';
import { Logger } from '../log';
import { channelName, Directory } from './directory';
import { channelStat, rootStat, statfs } from './attributes';

const S_IFMT = constants.S_IFMT;
const S_IFIFO = constants.S_IFIFO;
const UNCHANGED = 0xffffffff; // uid or gid -1 in chown(2)

export interface MountContext {
  ms: Memsections;
  directory: Directory;
  log: Logger;
  mountedAt: Date;
  /** The daemon is stopping: the memsections may be closed. */
  isStopped: () => boolean;
}

const refuse = (errno: number) => (...args: unknown[]) => (args[args.length - 1] as Callback)(errno);

export function buildOperations(ctx: MountContext): Operations {
  const { ms, directory, log } = ctx;

  // chmod and chown: the kernel has checked ownership (default_permissions).
  const changeAttributes = (path: string, change: { mode?: number; uid?: number; gid?: number }, cb: Callback) => {
    const name = channelName(path);
    if (name === undefined) return cb(path === '/' ? Errno.EPERM : Errno.ENOENT);
    ms.setChannelAttributes(name, change, Date.now()).then(
      (r) => cb(-r.errno),
      (err) => {
        log.error({ err, channel: name }, 'changing attributes failed');
        cb(Errno.EIO);
      },
    );
  };

  const lookup = (path: string) => {
    const name = channelName(path);
    return name === undefined ? undefined : directory.lookup(name);
  };

  return answerAfterStop(ctx.isStopped, {
    // Only the root's: a channel's getattr is answered natively
    // (native/fuse_glue.cc), from the same name index.
    getattr(path, cb) {
      if (path === '/') return cb(0, rootStat(ms.tableChangedMs() || ctx.mountedAt.getTime()));
      const c = lookup(path);
      return c ? cb(0, channelStat(c)) : cb(Errno.ENOENT);
    },

    readdir(path, cb) {
      if (path !== '/') return cb(Errno.ENOTDIR);
      return cb(0, directory.list().map((c) => c.name));
    },

    statfs(_path, cb) {
      cb(0, statfs(ms.geometry(), directory.list().length));
    },

    mknod(path, mode, _dev, cb) {
      if ((mode & S_IFMT) !== S_IFIFO) return cb(Errno.EPERM); // only FIFOs are channels
      const name = channelName(path);
      if (name === undefined) return cb(Errno.ENOENT);
      const bad = addon.checkName(name);
      if (bad) return cb(-bad);
      // The channel belongs to whoever ran mknod, as a file would.
      const { uid, gid } = cb.caller ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      ms.createChannel(name, mode & 0o7777, uid, gid, Date.now()).then(
        (r) => {
          if (r.errno) {
            log.info({ channel: name, errno: r.errno }, 'mknod refused');
            return cb(-r.errno);
          }
          log.info({ channel: name, slot: r.slot }, 'channel created');
          ms.answerNextGetattrAsFifo(name);
          cb(0);
        },
        (err) => {
          log.error({ err, channel: name }, 'mknod failed');
          cb(Errno.EIO);
        },
      );
    },

    unlink(path, cb) {
      const name = channelName(path);
      if (name === undefined) return cb(Errno.ENOENT);
      ms.unlinkChannel(name, Date.now()).then(
        (r) => {
          if (!r.errno) log.info({ channel: name }, 'channel unlinked');
          cb(-r.errno);
        },
        (err) => {
          log.error({ err, channel: name }, 'unlink failed');
          cb(Errno.EIO);
        },
      );
    },

    // `echo > chan` and `dd of=chan` truncate on open: a channel has no size
    // to cut, so truncation succeeds and changes nothing.
    truncate(path, _size, cb) {
      return lookup(path) ? cb(0) : cb(Errno.ENOENT);
    },
    ftruncate(_path, _fd, _size, cb) {
      cb(0);
    },
    // (utimens of a channel is answered natively: native/fuse_glue.cc)

    chmod(path, mode, cb) {
      changeAttributes(path, { mode: mode & 0o7777 }, cb);
    },
    chown(path, uid, gid, cb) {
      // -1 (as unsigned) leaves that one as it is, as chown(2) says.
      const change: { uid?: number; gid?: number } = {};
      if (uid !== UNCHANGED) change.uid = uid;
      if (gid !== UNCHANGED) change.gid = gid;
      changeAttributes(path, change, cb);
    },
    fsync(_path, _datasync, _fd, cb) {
      cb(0);
    },

    // Only FIFO channels live here.
    create: refuse(Errno.EPERM),
    mkdir: refuse(Errno.EPERM),
    rmdir: refuse(Errno.ENOTDIR),
    rename: refuse(Errno.EPERM),
    link: refuse(Errno.EPERM),
    symlink: refuse(Errno.EPERM),
    setxattr: refuse(Errno.ENOTSUP),
  });
}

/**
 * Once the daemon stops, the memsections are closed but the kernel may still
 * send requests (a release of a descriptor whose reader was just answered):
 * those are answered without touching shared memory.
 */
function answerAfterStop(isStopped: () => boolean, ops: Operations): Operations {
  const guarded: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => void][]) {
    guarded[name] = (...args: unknown[]) => {
      if (!isStopped()) return fn(...args);
      (args[args.length - 1] as Callback)(name === 'release' ? 0 : Errno.EIO);
    };
  }
  return guarded as Operations;
}
