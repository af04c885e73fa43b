// The library's errors are Node's own kind: an Error with a `code` ('EPIPE',
// 'ENOENT', 'EBUSY', ...), and for an engine result also `errno` (negative,
// as Node's system errors have it) and `syscall`, as fs and net give them.
import util from 'util';

export interface ChannelError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  /** The channel's name, when the error is of one channel. */
  channel?: string;
}

/** An engine result (a negative errno) as an error of `syscall` on `channel`. */
export function errnoError(result: number, syscall: string, channel: string): ChannelError {
  const [code, text] = util.getSystemErrorMap().get(result) ?? [`E${-result}`, 'unknown error'];
  return Object.assign(new Error(`${code}: ${text}, ${syscall} channel '${channel}'`), { code, errno: result, syscall, channel });
}

export function codedError(code: string, message: string): ChannelError {
  return Object.assign(new Error(message), { code });
}
