// Named errno values, as fuse-native expects them in callbacks (negative).
import { constants } from 'os';

const E = constants.errno;

export const Errno = {
  EPERM: -E.EPERM,
  ENOENT: -E.ENOENT,
  EINTR: -E.EINTR,
  EIO: -E.EIO,
  EBADF: -E.EBADF,
  EAGAIN: -E.EAGAIN,
  EACCES: -E.EACCES,
  EBUSY: -E.EBUSY,
  EEXIST: -E.EEXIST,
  ENOTDIR: -E.ENOTDIR,
  EISDIR: -E.EISDIR,
  EINVAL: -E.EINVAL,
  ENOSPC: -E.ENOSPC,
  EPIPE: -E.EPIPE,
  ENAMETOOLONG: -E.ENAMETOOLONG,
  ENOSYS: -E.ENOSYS,
  ENOTSUP: -E.ENOTSUP,
  ENOTEMPTY: -E.ENOTEMPTY,
} as const;

export type ErrnoValue = (typeof Errno)[keyof typeof Errno];
