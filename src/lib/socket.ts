// One end of a connection made through a handle (decision 0017): a
// ChannelStream 'rw' on the connection's private channel, with net.Socket's
// half-close (end() is end of file for the peer, which may still write
// until it ends too). The client's end makes the channel (connect.ts), the
// server's end opens it and takes its name away at once (server.ts), so the
// channel goes from the table as soon as both ends have closed, or as the
// program of either end exits, as an unlinked file does.
import { ChannelStream } from './channel-stream';
import { codedError } from './errors';
import { SideRequest } from './library-side';

export class Socket extends ChannelStream {
  /** The handle this connection came through (as net's remotePort, or the server's address()). */
  readonly handle: string;

  constructor(req: SideRequest, handle: string, channel: string, create: boolean) {
    const { memsections, side, notify } = req;
    // 0600: a connection is nobody else's business on a mount of either side.
    super({ memsections, side, notify, name: channel, mode: 'rw', create: create ? 'exclusive' : false, createMode: 0o600 });
    this.handle = handle;
  }

  // A peer program that was killed never ended its half: its end of file
  // came from the heartbeat watch. As a socket whose peer's host went,
  // that is ECONNRESET, not a clean 'end' that would pass for a whole reply.
  protected override endOfFile(): void {
    if (!this.resetIfPeerDied()) super.endOfFile();
  }

  // And a client whose server died before opening its end would otherwise
  // wait for a writer that never comes: the channel's rules alone cannot
  // tell it, since the dead program never had the channel open.
  protected override resetIfPeerDied(): boolean {
    if (!this.side?.peerDied) return false;
    this.destroy(Object.assign(codedError('ECONNRESET', `read ECONNRESET: the program at the other end of handle '${this.handle}' stopped without closing the connection`), { syscall: 'read' }));
    return true;
  }
}
