// The library (the package's `main`): a program reads and writes a channel
// of a memsection set in its own process, on the same rings and with the
// same FIFO engine as a mount, with no FUSE and no daemon in between. Its
// process claims the side as a mount would (decision 0016), so it talks to
// `cat` and `echo` on a mount of the other side, or to another program.
//
//   const ch = openChannel({ memsections: 'memsections', side: 'a', name: 'jobs', mode: 'w', create: true });
//   ch.end('hello\n');
// And net-style handles, a private channel per connection (decision 0017):
//   createServer({ memsections, side: 'a' }, (socket) => socket.pipe(socket)).listen('echo');
//   connect({ memsections, side: 'b', handle: 'echo' }).end('ping\n');
import { ChannelMode, ChannelStream, OpenChannelOptions } from './channel-stream';
import { isReservedName, RESERVED_PREFIX } from './handle-names';
import { checkSideRequest } from './library-side';

export { ChannelStream } from './channel-stream';
export type { ChannelMode, OpenChannelOptions } from './channel-stream';
export type { ChannelError } from './errors';
export type { LibraryNotify, SideName, SideRequest } from './library-side';
export { connect } from './connect';
export type { ConnectOptions } from './connect';
export { createServer, Server } from './server';
export type { ServerOptions } from './server';
export { Socket } from './socket';

const MODES: ChannelMode[] = ['r', 'w', 'rw'];

/**
 * Opens channel `name` on `side` of the set: a Duplex that is readable
 * ('r'), writable ('w') or both ('rw'), with backpressure and async
 * iteration. It emits 'ready' once the side is claimed and the channel
 * open, or 'error' (code ENOENT: no such channel without `create`; EBUSY:
 * the side is served by a live mount or program). Reads end at the
 * peer's end of file; end() is end of file for the peer; a write whose
 * readers are gone fails with code EPIPE. The side is attached while any
 * channel of this process is open on it, and detached after the last closes.
 */
export function openChannel(opts: OpenChannelOptions): ChannelStream {
  checkSideRequest(opts, 'openChannel');
  if (typeof opts.name !== 'string' || opts.name === '') throw new TypeError('name must be a channel name');
  if (isReservedName(opts.name)) throw new TypeError(`channel names that begin '${RESERVED_PREFIX}' are the handles' own (createServer, connect)`);
  if (!MODES.includes(opts.mode)) throw new TypeError("mode must be 'r', 'w' or 'rw'");
  return new ChannelStream(opts);
}
