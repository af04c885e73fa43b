// The FUSE operations of a mount that JavaScript answers: the namespace.
// Each handler is short and answers with a named errno; the channel table is
// the addon's. open, read, write, release and poll of a channel never come
// here: fuse-native hands them to the native FIFO engine on libfuse's thread
// (native/fuse_glue.cc). Everything that is not a FIFO channel is refused.
import { constants } from 'fs';
import Fuse, { Callback, Operations } from 'fuse-native';
import { addon, Memsections } from '../native';
import { Errno } from '../errno';
import { Logger } from '../log';
import { Namespace } from './namespace';
import { rootStat, statfs } from './attributes';
import { isReservedName } from '../lib/handle-names';

const S_IFMT = constants.S_IFMT;
const S_IFIFO = constants.S_IFIFO;
const UNCHANGED = 0xffffffff; // uid or gid -1 in chown(2)

export interface MountContext {
  namespace: Namespace;
  log: Logger;
  mountedAt: Date;
  /** The daemon is stopping: the memsections may be closed. */
  isStopped: () => boolean;
}

const refuse = (errno: number) => (...args: unknown[]) => (args[args.length - 1] as Callback)(errno);

export function buildOperations(ctx: MountContext): Operations {
  const { namespace, log } = ctx;
  const channel = (path: string) => {
    const place = namespace.resolve(path);
    return place?.kind === 'channel' ? place : undefined;
  };
  const folderStat = (ms: Memsections) => rootStat(ms.tableChangedMs() || ctx.mountedAt.getTime());

  // chmod and chown: the kernel has checked ownership (default_permissions).
  const changeAttributes = (path: string, change: { mode?: number; uid?: number; gid?: number }, cb: Callback) => {
    const place = namespace.resolve(path);
    if (place?.kind !== 'channel') return cb(place?.kind === 'root' || place?.kind === 'folder' ? Errno.EPERM : Errno.ENOENT);
    place.folder.ms.setChannelAttributes(place.name, change, Date.now()).then(
      (r) => cb(r.errno),
      (err) => {
        log.error({ err, channel: path }, 'changing attributes failed');
        cb(Errno.EIO);
      },
    );
  };

  return answerAfterStop(ctx.isStopped, {
    // The root and the folders; a channel's getattr is answered natively
    // (native/fuse_glue.cc), from the same name index.
    getattr(path, cb) {
      const place = namespace.resolve(path);
      if (place?.kind === 'root') return cb(0, rootStat(namespace.rootChangedMs() || ctx.mountedAt.getTime()));
      if (place?.kind === 'folder') return cb(0, folderStat(place.folder.ms));
      return cb(Errno.ENOENT);
    },

    readdir(path, cb) {
      const place = namespace.resolve(path);
      if (place?.kind === 'root') return cb(0, namespace.peers());
      if (place?.kind === 'folder') return cb(0, place.folder.directory.list().map((c) => c.name));
      return cb(place ? Errno.ENOTDIR : Errno.ENOENT);
    },

    statfs(_path, cb) {
      const folders = namespace.folders();
      cb(0, statfs(folders.map((f) => ({ geometry: f.ms.geometry(), inUse: f.directory.list().length }))));
    },

    mknod(path, mode, _dev, cb) {
      if ((mode & S_IFMT) !== S_IFIFO) return cb(Errno.EPERM); // only FIFOs are channels
      const place = namespace.resolve(path);
      if (place?.kind === 'not-a-peer') return cb(Errno.EPERM); // channels live in a peer's folder
      if (place?.kind !== 'channel') return cb(Errno.ENOENT);
      const { ms } = place.folder;
      const name = place.name;
      const bad = addon.checkName(name);
      if (bad) return cb(bad);
      if (isReservedName(name)) return cb(Errno.EPERM); // the library's handles' names (src/lib/handle-names.ts)
      // The channel belongs to whoever ran mknod, as a file would.
      const { uid, gid } = Fuse.caller() ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      ms.createChannel(name, mode & 0o7777, uid, gid, Date.now()).then(
        (r) => {
          if (r.errno) {
            log.info({ channel: path, errno: r.errno }, 'mknod refused');
            return cb(r.errno);
          }
          log.info({ channel: path, slot: r.slot }, 'channel created');
          ms.answerNextGetattrAsFifo(name);
          cb(0);
        },
        (err) => {
          log.error({ err, channel: path }, 'mknod failed');
          cb(Errno.EIO);
        },
      );
    },

    unlink(path, cb) {
      const place = channel(path);
      if (!place) return cb(Errno.ENOENT);
      place.folder.ms.unlinkChannel(place.name, Date.now()).then(
        (r) => {
          if (!r.errno) log.info({ channel: path }, 'channel unlinked');
          cb(r.errno);
        },
        (err) => {
          log.error({ err, channel: path }, 'unlink failed');
          cb(Errno.EIO);
        },
      );
    },

    // `echo > chan` and `dd of=chan` truncate on open: a channel has no size
    // to cut, so truncation succeeds and changes nothing.
    truncate(path, _size, cb) {
      const place = channel(path);
      return place && place.folder.directory.lookup(place.name) ? cb(0) : cb(Errno.ENOENT);
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
 * send requests: those are answered EIO without touching shared memory.
 * (Releases never come here: the native glue answers them.)
 */
function answerAfterStop(isStopped: () => boolean, ops: Operations): Operations {
  const guarded: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => void][]) {
    guarded[name] = (...args: unknown[]) => {
      if (!isStopped()) return fn(...args);
      (args[args.length - 1] as Callback)(Errno.EIO);
    };
  }
  return guarded as Operations;
}
