// A channel as a Node stream: a Duplex, readable for mode 'r', writable for
// 'w', both for 'rw', over handles of the side's FIFO engine: one read-only
// and one write-only, so that end() releases the writer alone and the peer
// reads end of file while we read on. The FIFO rules (EOF, EPIPE, PIPE_BUF
// atomicity, several openers) are the engine's; this file only maps its
// results: n > 0 bytes, 0 end of file, -EAGAIN wait (handle-wait.ts), any
// other negative errno an error.
import fs from 'fs';
import { Duplex, DuplexOptions } from 'stream';
import { Errno } from '../errno';
import { codedError, errnoError } from './errors';
import { HandleWait } from './handle-wait';
import { LibrarySide, SideRequest } from './library-side';

export type ChannelMode = 'r' | 'w' | 'rw';

export interface OpenChannelOptions extends SideRequest {
  /** The channel's name, as it shows in a mount's folder. */
  name: string;
  mode: ChannelMode;
  /** Make the channel if it does not exist (as mknod NAME p on a mount would); 'exclusive': fail with EEXIST if it does. */
  create?: boolean | 'exclusive';
  /** Its permission bits when made (default 0o644, mkfifo's under umask 022). */
  createMode?: number;
}

// Bytes asked of the engine per read: a ring holds at least 8 KiB.
const READ_CHUNK = 64 * 1024;
const { O_RDONLY, O_WRONLY } = fs.constants;

export class ChannelStream extends Duplex {
  readonly channel: string;
  protected side?: LibrarySide;
  private reader?: HandleWait;
  private writer?: HandleWait;
  private scratch?: Buffer;
  private pendingWrite?: (err?: Error | null) => void;

  constructor(private readonly opts: OpenChannelOptions) {
    // readable / writable: in Node's Duplex options since v14.6, not yet in @types/node 20.
    const halves = { readable: opts.mode !== 'w', writable: opts.mode !== 'r' };
    super({ ...halves, allowHalfOpen: true, readableHighWaterMark: READ_CHUNK } as DuplexOptions);
    this.channel = opts.name;
  }

  /** Claims the side (the first stream on it), makes the channel if asked, opens its handles. */
  override _construct(callback: (err?: Error | null) => void): void {
    this.open().then(
      () => {
        callback();
        this.opened();
      },
      (err: Error) => callback(err),
    );
  }

  /** Sockets (socket.ts) add their steps around it. */
  protected async open(): Promise<void> {
    const { opts } = this;
    this.side = await LibrarySide.acquire(opts);
    if (opts.create) await this.side.create(opts.name, opts.createMode ?? 0o644, opts.create === 'exclusive');
    if (opts.mode !== 'w') this.reader = this.openHandle(O_RDONLY);
    if (opts.mode !== 'r') this.writer = this.openHandle(this.writerFlags());
  }

  /** open(2)'s flags for our writer; connect's knock (connect.ts) wants a reader there already. */
  protected writerFlags(): number {
    return O_WRONLY;
  }

  protected opened(): void {
    this.emit('ready');
  }

  private openHandle(flags: number): HandleWait {
    const h = this.side!.channels.open(this.channel, flags);
    if (h < 0) throw errnoError(h, 'open', this.channel);
    return new HandleWait(this.side!, h);
  }

  private closeHandle(w: HandleWait): void {
    w.done();
    this.side!.channels.release(w.handle);
  }

  override _read(): void {
    this.pull();
  }

  // One chunk per _read: the stream asks again while it wants more.
  private pull(): void {
    const r = this.reader;
    if (!r || this.destroyed) return;
    for (;;) {
      const buf = (this.scratch ??= Buffer.allocUnsafe(READ_CHUNK));
      const n = this.side!.channels.read(r.handle, buf, buf.length);
      if (n === Errno.EAGAIN) {
        if (this.resetIfPeerDied()) return;
        if (r.again(() => this.pull())) continue;
        return;
      }
      r.done();
      if (n < 0) return void this.destroy(errnoError(n, 'read', this.channel));
      if (n === 0) {
        // End of file: the handle goes now (a later writer of the peer waits
        // for a new reader), and the readable side ends.
        this.reader = undefined;
        this.closeHandle(r);
        this.endOfFile();
        return;
      }
      // A short read is copied out and the buffer kept; a long one is handed over.
      let chunk: Buffer;
      if (n * 2 <= buf.length) {
        chunk = Buffer.from(buf.subarray(0, n));
      } else {
        chunk = buf.subarray(0, n);
        this.scratch = undefined;
      }
      this.push(chunk);
      return;
    }
  }

  /** The peer's writers are all gone; sockets (socket.ts) tell a peer that died from one that ended. */
  protected endOfFile(): void {
    this.push(null);
  }

  /** A read must wait: sockets (socket.ts) end with ECONNRESET here if their peer died, and say so; a channel waits for a writer for ever, as a FIFO does. */
  protected resetIfPeerDied(): boolean {
    return false;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.pendingWrite = callback;
    this.put(chunk, 0);
  }

  // A chunk of up to 4096 bytes goes into the ring whole (the engine's
  // PIPE_BUF rule); a longer one may go in parts, as into a pipe.
  private put(chunk: Buffer, offset: number): void {
    const w = this.writer;
    if (!w || this.destroyed) return;
    for (;;) {
      const rest = offset > 0 ? chunk.subarray(offset) : chunk;
      const n = this.side!.channels.write(w.handle, rest, rest.length);
      if (n === Errno.EAGAIN) {
        if (w.again(() => this.put(chunk, offset))) continue;
        return;
      }
      w.done();
      if (n < 0) return this.settleWrite(errnoError(n, 'write', this.channel));
      if (n === 0 && rest.length > 0) return this.settleWrite(errnoError(Errno.EIO, 'write', this.channel)); // never: the engine moves bytes or waits
      offset += n;
      if (offset >= chunk.length) return this.settleWrite(null);
    }
  }

  private settleWrite(err: Error | null): void {
    const callback = this.pendingWrite;
    this.pendingWrite = undefined;
    callback?.(err);
  }

  /** end(): our writer goes, and the peer's reader gets end of file once it has read the rest. */
  override _final(callback: (err?: Error | null) => void): void {
    const w = this.writer;
    this.writer = undefined;
    if (w) this.closeHandle(w);
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    for (const w of [this.reader, this.writer]) if (w) this.closeHandle(w);
    this.reader = this.writer = undefined;
    if (this.pendingWrite) this.settleWrite(codedError('ERR_STREAM_DESTROYED', `the stream of channel '${this.channel}' was destroyed before the write completed`));
    this.side?.release();
    this.side = undefined;
    callback(err);
  }
}
