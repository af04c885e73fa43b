// createServer(): the listening end of a handle (decision 0017). listen()
// makes the handle's listen channel on our side and reads the connect
// records that clients of the other side write there (connect.ts); each
// names a connection channel, which we open 'rw' and hand out as a Socket
// ('connection'). The clients are not trusted: a line that is not a
// connection channel's name is skipped, and a name we cannot open is
// dropped, with no event either way.
import { EventEmitter } from 'events';
import fs from 'fs';
import { ChannelStream } from './channel-stream';
import { codedError, errnoError } from './errors';
import { checkHandle, isConnectionName, listenName } from './handle-names';
import { checkSideRequest, LibrarySide, SideRequest } from './library-side';
import { Socket } from './socket';

export type ServerOptions = SideRequest;

const { O_RDONLY } = fs.constants;
// A connect record is one short line; more than this without a newline is
// a peer's garbage, not a record to wait for the end of.
const RECORD_MAX = 256;

/** The server's end of a connection: the client made the channel; we open it and take its name away. */
class AcceptedSocket extends Socket {
  protected override async open(): Promise<void> {
    await super.open();
    // Both ends are open now: the channel goes once both have closed. A
    // mount user may have removed the name already; that is no matter.
    await this.side!.remove(this.channel).catch(() => undefined);
  }
}

export class Server extends EventEmitter {
  private side?: LibrarySide;
  private handle?: string;
  private channel = '';
  private anchor?: number;
  private reader?: ChannelStream;
  private pending = '';
  private closing = false;
  private stopped = false;
  private connections = 0;

  constructor(
    private readonly opts: ServerOptions,
    onConnection?: (socket: Socket) => void,
  ) {
    super();
    if (onConnection) this.on('connection', onConnection);
  }

  /** Listens on `handle` for clients of the other side; 'listening' (and `cb`), or 'error' with code EADDRINUSE if this side listens there already. */
  listen(handle: string, cb?: () => void): this {
    checkHandle(handle);
    if (this.side || this.handle !== undefined) throw codedError('ERR_SERVER_ALREADY_LISTEN', 'listen was already called on this server');
    this.handle = handle;
    if (cb) this.once('listening', cb);
    this.start(handle).then(
      () => this.emit('listening'),
      (err: Error) => this.emit('error', err),
    );
    return this;
  }

  /** The handle listened on, while listening. */
  address(): string | null {
    return this.side && !this.closing ? this.handle! : null;
  }

  get listening(): boolean {
    return this.address() !== null;
  }

  private async start(handle: string): Promise<void> {
    const side = await LibrarySide.acquire(this.opts);
    if (side.listening.has(handle)) {
      side.release();
      this.handle = undefined;
      throw Object.assign(codedError('EADDRINUSE', `listen EADDRINUSE: side ${this.opts.side} of ${this.opts.memsections} listens on handle '${handle}' already`), {
        syscall: 'listen',
        address: handle,
      });
    }
    side.listening.add(handle);
    this.side = side;
    this.channel = listenName(this.opts.side, handle);
    try {
      await this.makeListenChannel(side);
      // Held for as long as we listen: the stream below ends at every end
      // of file (each client's knock closes its writer) and is opened anew,
      // and without this reader between two of them a client's knock would
      // find nobody listening (ENXIO).
      const h = side.channels.open(this.channel, O_RDONLY);
      if (h < 0) throw errnoError(h, 'open', this.channel);
      this.anchor = h;
    } catch (err) {
      this.finish();
      throw err;
    }
    this.read();
  }

  private async makeListenChannel(side: LibrarySide): Promise<void> {
    try {
      await side.create(this.channel, 0o644, true);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      // Ours by name, yet no listener of ours has it, and only our process
      // holds this side: an earlier holder died listening. Its unread
      // records go with it.
      await side.remove(this.channel);
      await side.create(this.channel, 0o644, true);
    }
  }

  private read(): void {
    const r = new ChannelStream({ ...this.opts, name: this.channel, mode: 'r' });
    this.reader = r;
    r.on('data', (chunk: Buffer) => this.records(chunk));
    r.on('end', () => (this.closing ? this.finish() : this.read()));
    r.on('error', (err: Error) => {
      // Once closing, the channel's name is gone: the next reader cannot open it, and need not.
      if (!this.closing) this.emit('error', err);
      this.finish();
    });
  }

  private records(chunk: Buffer): void {
    this.pending += chunk.toString('latin1');
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (isConnectionName(line)) this.accept(line);
    }
    if (this.pending.length > RECORD_MAX) this.pending = '';
  }

  private accept(channel: string): void {
    const s = new AcceptedSocket(this.opts, this.handle!, channel, false);
    // Until 'connection' the socket is ours: its failure to open (a client
    // that gave up, a record naming no channel) is nobody else's error.
    const drop = () => undefined;
    s.once('error', drop);
    s.once('ready', () => {
      s.off('error', drop);
      if (this.closing) return void s.destroy(); // after close(): the client reads end of file
      this.connections++;
      s.once('close', () => {
        this.connections--;
        this.closed();
      });
      this.emit('connection', s);
    });
  }

  /**
   * Stops accepting: the handle's name goes at once (a client connecting
   * now gets ECONNREFUSED), the records that clients wrote already are
   * read and their connections ended, and the connections handed out stay
   * open. 'close' (and `cb`) comes once they have all closed, as with net.
   */
  close(cb?: (err?: Error) => void): this {
    if (!this.side || this.closing) {
      if (cb) process.nextTick(cb, codedError('ERR_SERVER_NOT_RUNNING', 'the server is not listening'));
      return this;
    }
    if (cb) this.once('close', () => cb());
    this.closing = true;
    this.stop(this.side).catch((err: Error) => {
      this.emit('error', err);
      this.finish();
    });
    return this;
  }

  private async stop(side: LibrarySide): Promise<void> {
    const entry = side.ms.lookupChannel(this.channel);
    await side.remove(this.channel).catch(() => undefined); // a mount user may have removed it
    side.listening.delete(this.handle!);
    // No knock can start now. Knocks under way hold a writer, and a record
    // they wrote waits in the ring: while either is there, the reader goes
    // on to its end of file. With neither, it would wait for ever.
    const toUs = this.opts.side === 'a' ? 1 : 0; // rings[0] carries a -> b
    const c = entry && side.ms.channels().find((x) => x.slot === entry.slot && x.generation === entry.generation);
    const ring = c?.rings[toUs];
    if (!ring || (ring.writersOpen === 0 && ring.head === ring.tail)) this.finish();
  }

  /** Listening is over: the reader, the anchor and our hold on the side go. */
  private finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closing = true;
    this.reader?.destroy();
    if (this.anchor !== undefined) this.side!.channels.release(this.anchor);
    if (this.handle !== undefined) this.side?.listening.delete(this.handle);
    this.side?.release();
    this.closed();
  }

  private closed(): void {
    if (this.stopped && this.connections === 0) this.emit('close');
  }
}

/** A server on `side` of the set; listen(handle) makes it reachable from the other side. */
export function createServer(opts: ServerOptions, onConnection?: (socket: Socket) => void): Server {
  checkSideRequest(opts, 'createServer');
  return new Server(opts, onConnection);
}
