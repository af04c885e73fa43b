// The channel names behind net-style handles (decision 0017). They live in
// the set's one channel table beside the user's channels, so they take a
// prefix that the library and the mount refuse to make by name (RESERVED):
//   .net:a:HANDLE  side a listens on HANDLE; clients on side b knock there
//   .net:c:ID      one connection, ID = pid.counter.random of the client
// Both are channel names as checkName takes them (no '/', at most 63 bytes).
import crypto from 'crypto';
import type { SideName } from './library-side';

export const RESERVED_PREFIX = '.net:';
const CONNECTION_PREFIX = `${RESERVED_PREFIX}c:`;
const NAME_MAX = 63; // native/layout.h, kNameMax
/** A handle is short enough that its listen channel's name fits the table. */
export const HANDLE_MAX = NAME_MAX - `${RESERVED_PREFIX}a:`.length;
const HANDLE_CHARS = /^[A-Za-z0-9._-]+$/;
const LISTEN_NAME = /^\.net:([ab]):([A-Za-z0-9._-]+)$/;
const CONNECTION_NAME = /^\.net:c:[0-9]{1,10}\.[0-9a-z]{1,13}\.[0-9a-f]{16}$/;

export function isReservedName(name: string): boolean {
  return name.startsWith(RESERVED_PREFIX);
}

/** Throws a TypeError that says what a handle may be. */
export function checkHandle(handle: unknown): asserts handle is string {
  if (typeof handle !== 'string') throw new TypeError(`a handle must be a string, not ${typeof handle}`);
  if (handle.length < 1 || handle.length > HANDLE_MAX) throw new TypeError(`handle '${handle}' must be 1 to ${HANDLE_MAX} characters long`);
  if (!HANDLE_CHARS.test(handle)) throw new TypeError(`handle '${handle}' may hold only letters, digits, '.', '_' and '-'`);
}

/** The listen channel of `handle` on `side` (where the server is). */
export function listenName(side: SideName, handle: string): string {
  return `${RESERVED_PREFIX}${side}:${handle}`;
}

/** The server's side and handle, if `name` is a listen channel. */
export function parseListenName(name: string): { side: SideName; handle: string } | undefined {
  const m = LISTEN_NAME.exec(name);
  return m ? { side: m[1] as SideName, handle: m[2] } : undefined;
}

let connections = 0;

/** A fresh connection channel's name: unique per process (pid, counter) and across restarts (random). */
export function connectionName(): string {
  connections++;
  return `${CONNECTION_PREFIX}${process.pid}.${connections.toString(36)}.${crypto.randomBytes(8).toString('hex')}`;
}

/** Whether a connect record names a connection channel, and nothing else (the peer is not trusted). */
export function isConnectionName(name: string): boolean {
  return CONNECTION_NAME.test(name);
}
