// The library (the package's `main`): a program reads and writes a channel
// of a memsection set in its own process, on the same rings and with the
// same FIFO engine as a mount, with no FUSE and no daemon in between. Its
// process claims the side as a mount would (decision 0016), so it talks to
// `cat` and `echo` on a mount of the other side, or to another program.
//
//   const ch = openChannel({ memsections: 'memsections', side: 'a', name: 'jobs', mode: 'w', create: true });
//   ch.end('hello\n');
import { ChannelMode, ChannelStream, OpenChannelOptions } from './channel-stream';

export { ChannelStream } from './channel-stream';
export type { ChannelMode, OpenChannelOptions } from './channel-stream';
export type { ChannelError } from './errors';
export type { LibraryNotify, SideName } from './library-side';

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
  if (typeof opts !== 'object' || opts === null) throw new TypeError('openChannel needs an options object');
  if (typeof opts.memsections !== 'string') throw new TypeError('memsections must be a string: the set, as --memsections names it');
  if (opts.side !== 'a' && opts.side !== 'b') throw new TypeError("side must be 'a' or 'b'");
  if (typeof opts.name !== 'string' || opts.name === '') throw new TypeError('name must be a channel name');
  if (!MODES.includes(opts.mode)) throw new TypeError("mode must be 'r', 'w' or 'rw'");
  if (opts.notify !== undefined && opts.notify !== 'futex' && opts.notify !== 'poll') throw new TypeError("notify must be 'futex' or 'poll'");
  return new ChannelStream(opts);
}
