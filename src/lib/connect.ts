// connect(): the client's end of a handle. It makes a fresh connection
// channel and opens it 'rw', then knocks: one connect record (the channel's
// name on a line of its own) written to the handle's listen channel, which
// the server reads (server.ts). The record is far below 4096 bytes, so the
// engine writes it whole (PIPE_BUF) and the records of clients that connect
// at once never interleave. 'connect' means the record reached a listener,
// as TCP's means the server's kernel took the connection into its backlog;
// bytes written before the server has opened its end wait in the ring.
import fs from 'fs';
import { ChannelStream } from './channel-stream';
import { codedError } from './errors';
import { checkHandle, connectionName, listenName } from './handle-names';
import { checkSideRequest, SideRequest } from './library-side';
import { Socket } from './socket';

export interface ConnectOptions extends SideRequest {
  /** The handle a server on the other side listens on. */
  handle: string;
}

const { O_WRONLY, O_NONBLOCK } = fs.constants;
// The listen channel is missing (nobody listens, or the server closed),
// has no reader (its listener's program died), or lost its reader while we wrote.
const REFUSALS = new Set(['ENOENT', 'ENXIO', 'EPIPE']);

/** A writer of the listen channel that fails at open without a reader there (fifo(7)'s ENXIO), instead of writing into a ring nobody reads. */
class Knock extends ChannelStream {
  protected override writerFlags(): number {
    return O_WRONLY | O_NONBLOCK;
  }
}

class ClientSocket extends Socket {
  constructor(private readonly req: ConnectOptions) {
    super(req, req.handle, connectionName(), true);
  }

  protected override async open(): Promise<void> {
    await super.open();
    try {
      await this.knock();
    } catch (err) {
      // Nobody will open the channel now: it goes with our handles. The
      // refusal is what the caller must hear, even if the name went already.
      await this.side!.remove(this.channel).catch(() => undefined);
      throw err;
    }
  }

  private async knock(): Promise<void> {
    const { memsections, side, notify, handle } = this.req;
    const peer = side === 'a' ? 'b' : 'a';
    const k = new Knock({ memsections, side, notify, name: listenName(peer, handle), mode: 'w' });
    // A record opens with a newline too: whatever a hostile writer left
    // unterminated before it ends there, and our record still parses.
    const done = new Promise<void>((resolve, reject) => {
      k.once('finish', resolve);
      k.once('error', reject);
    });
    k.end(`\n${this.channel}\n`);
    try {
      await done;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!REFUSALS.has(code)) throw err;
      throw Object.assign(codedError('ECONNREFUSED', `connect ECONNREFUSED: nobody on side ${peer} of ${memsections} listens on handle '${handle}' (${code})`), {
        syscall: 'connect',
        address: handle,
      });
    }
  }

  protected override opened(): void {
    this.emit('connect');
    super.opened();
  }
}

/**
 * Connects to `handle`, listened on by a server on the other side of the
 * set: a Duplex socket that emits 'connect' (and calls `onConnect`), or
 * 'error' with code ECONNREFUSED when nobody listens there.
 */
export function connect(opts: ConnectOptions, onConnect?: () => void): Socket {
  checkSideRequest(opts, 'connect');
  checkHandle(opts.handle);
  const s = new ClientSocket(opts);
  if (onConnect) s.once('connect', onConnect);
  return s;
}
