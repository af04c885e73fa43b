// FIFO semantics across peers (fifo(7), pipe(7)) on top of the rings.
//
// Runs on the JavaScript thread only. A request that cannot be answered now
// (empty ring, full ring) is parked in its channel's queue with the FUSE
// buffer it came with, the channel announces to the peer that it waits
// (setWaiting), and the request is retried whenever the notifier reports a
// ring of our bell, a local open or close happens, or the periodic check
// runs. Nothing here ever blocks: waiting is the absence of a reply.
//
// Rules (each reader or writer is one open descriptor on this side):
//  - a reader waits while the ring is empty and a writer is attached or none
//    has attached since it opened; it gets EOF (0) once the ring is drained
//    and every writer that attached has closed;
//  - a writer waits while the ring is full; it gets EPIPE once every reader
//    that attached has closed;
//  - writes up to PIPE_BUF bytes go into the ring whole or not at all, and
//    queued writers go in arrival order, so they never interleave;
//  - O_NONBLOCK gives EAGAIN instead of waiting; an interrupted request
//    (FUSE_INTERRUPT) is answered EINTR, or with the bytes already moved.
import { addon, Endpoint, Memsections } from '../native';
import { Errno } from '../errno';
import { Logger } from '../log';
import { checkChannel } from '../memsections/check';
import { tracer } from '../trace/tracer';

export interface ChannelRef {
  slot: number;
  generation: number;
  name: string;
}

export interface OpenFile {
  fd: number;
  channel: ChannelRef;
  reading: boolean;
  writing: boolean;
  nonblock: boolean;
  /** writer_opens that EOF must differ from: a writer attached after it, or data it left. */
  eofBaseline: number;
  /** reader_opens of readers that had left when it opened: EPIPE needs another. */
  epipeBaseline: number;
}

export type Reply = (result: number) => void;

interface Pending {
  file: OpenFile;
  buf: Buffer;
  length: number;
  /** bytes already moved (writes larger than PIPE_BUF go in pieces) */
  done: number;
  reply: Reply;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** when and in which queue it was parked (tracing only) */
  parkedAt?: number;
  parkedAs?: 'reads' | 'writes';
}

interface SlotQueue {
  channel: ChannelRef;
  reads: Pending[];
  writes: Pending[];
  readerWaits: boolean;
  writerWaits: boolean;
}

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;

export class ChannelService {
  private readonly files = new Map<number, OpenFile>();
  private readonly queues = new Map<number, SlotQueue>();
  private readonly state = new Float64Array(Endpoint.Length);
  private nextFd = 1;
  private closed = false;
  /** The peer died without detaching: nothing it holds open will ever close. */
  private peerDead = false;

  constructor(
    private readonly ms: Memsections,
    private readonly log: Logger,
  ) {}

  /** Stopped (cancelAll): the memsections may be closed; touch nothing. */
  get isClosed(): boolean {
    return this.closed;
  }

  get openFiles(): number {
    return this.files.size;
  }

  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.reads.length + q.writes.length;
    return n;
  }

  /** Opens a descriptor on a channel; returns the fd or a negative errno. */
  open(channel: ChannelRef, flags: number): number {
    const mode = flags & O_ACCMODE;
    const reading = mode !== O_WRONLY;
    const writing = mode === O_WRONLY || mode === O_RDWR;
    if (!this.ms.endpointState(channel.slot, channel.generation, this.state)) return this.corrupt(channel, 'open');
    const file: OpenFile = {
      fd: this.nextFd++,
      channel,
      reading,
      writing,
      nonblock: (flags & O_NONBLOCK) !== 0,
      // Writers that came and went, with all they wrote already read, do not
      // count either: as with a kernel FIFO, a reader without a writer (and
      // without data left for it) waits for one instead of reading EOF.
      eofBaseline:
        this.state[Endpoint.InFill] === 0 && this.state[Endpoint.WritersOpen] === 0 ? this.state[Endpoint.WriterOpens] : this.state[Endpoint.EofMark],
      // Readers that came and went before this writer opened do not count:
      // as with a kernel FIFO, a writer without a reader waits for one.
      epipeBaseline: this.state[Endpoint.ReaderOpens] - this.state[Endpoint.ReadersOpen],
    };
    if (!this.ms.adjustOpen(channel.slot, channel.generation, reading, writing, 1)) return this.corrupt(channel, 'open');
    this.files.set(file.fd, file);
    return file.fd;
  }

  /** Closes a descriptor (FUSE release: no request of it is in flight). */
  release(fd: number): ChannelRef | undefined {
    const file = this.files.get(fd);
    if (!file) return undefined;
    this.files.delete(fd);
    const { slot, generation } = file.channel;
    // A reader that leaves an empty ring behind, with no writer attached,
    // has consumed that writer's session: the next reader waits for a new
    // writer instead of reading EOF at once (and likewise for writers).
    if (this.ms.endpointState(slot, generation, this.state)) {
      const s = this.state;
      const eof = file.reading && s[Endpoint.InFill] === 0 && s[Endpoint.WritersOpen] === 0 ? s[Endpoint.WriterOpens] : undefined;
      const epipe = file.writing && s[Endpoint.ReadersOpen] === 0 ? s[Endpoint.ReaderOpens] : undefined;
      if (eof !== undefined || epipe !== undefined) this.ms.markEnd(slot, generation, eof, epipe);
    }
    this.ms.adjustOpen(slot, generation, file.reading, file.writing, -1);
    return file.channel;
  }

  read(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal): void {
    const file = this.files.get(fd);
    if (!file || !file.reading) return reply(Errno.EBADF);
    if (length === 0) return reply(0);
    const q = this.queues.get(file.channel.slot);
    if (!q || q.reads.length === 0) {
      const result = this.tryRead(file, buf, length);
      if (result !== undefined) return reply(result);
    }
    if (file.nonblock) return reply(Errno.EAGAIN);
    this.park('reads', { file, buf, length, done: 0, reply, signal });
  }

  write(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal): void {
    const file = this.files.get(fd);
    if (!file || !file.writing) return reply(Errno.EBADF);
    if (length === 0) return reply(0);
    const p: Pending = { file, buf, length, done: 0, reply, signal };
    const q = this.queues.get(file.channel.slot);
    if (!q || q.writes.length === 0) {
      const result = this.tryWrite(p);
      if (result !== undefined) return reply(result);
    }
    if (file.nonblock) return reply(p.done > 0 ? p.done : Errno.EAGAIN);
    this.park('writes', p);
  }

  /** Re-checks every waiting request: the peer rang, or time passed. */
  /**
   * A dead peer's writers can send nothing more and its readers take nothing
   * more: our readers get EOF once the ring is drained, our writers EPIPE.
   * Bytes already in the rings stay for when the peer mounts again.
   */
  setPeerDead(dead: boolean): void {
    if (dead === this.peerDead) return;
    this.peerDead = dead;
    this.kick();
  }

  kick(): void {
    for (const slot of [...this.queues.keys()]) this.service(slot);
  }

  /** Answers every waiting request with `errno` (shutdown). */
  cancelAll(errno: number): void {
    this.closed = true;
    for (const q of this.queues.values()) {
      for (const p of [...q.reads, ...q.writes]) this.finish(p, p.done > 0 ? p.done : errno);
      q.reads = [];
      q.writes = [];
    }
    this.queues.clear();
  }

  // --- internals -------------------------------------------------------------

  private corrupt(channel: ChannelRef, during: string): number {
    // Only on this error path: say what exactly is wrong, as `intervmfs check` would.
    const entry = this.ms.channels().find((c) => c.slot === channel.slot);
    const why = !entry
      ? 'the slot is free now'
      : entry.generation !== channel.generation
        ? `the slot holds generation ${entry.generation}, not ${channel.generation}`
        : checkChannel(this.ms.geometry(), entry).map((f) => `${f.where}: ${f.problem}`).join('; ') || 'indices changed while read';
    this.log.error({ channel: channel.name, slot: channel.slot, during, why }, 'channel state is corrupt or the slot was reused; answering EIO');
    return Errno.EIO;
  }

  /** A read's answer, or undefined when it has to wait. */
  private tryRead(file: OpenFile, buf: Buffer, length: number): number | undefined {
    const { slot, generation } = file.channel;
    const t0 = tracer.enabled ? tracer.now() : 0;
    const n = this.ms.consume(slot, generation, buf, length);
    if (tracer.enabled && n > 0) tracer.add('copy.consume', tracer.now() - t0, n);
    if (n !== 0) return n > 0 ? n : this.corrupt(file.channel, 'read');
    const s = this.state;
    if (!this.ms.endpointState(slot, generation, s)) return this.corrupt(file.channel, 'read');
    if (s[Endpoint.InFill] > 0) return this.tryRead(file, buf, length);
    if (this.peerDead) return 0;
    if (s[Endpoint.WritersOpen] === 0 && s[Endpoint.WriterOpens] !== file.eofBaseline) {
      this.ms.markEnd(slot, generation, s[Endpoint.WriterOpens], undefined);
      return 0;
    }
    return undefined;
  }

  /** A write's answer, or undefined when it has to wait (p.done tells the progress). */
  private tryWrite(p: Pending): number | undefined {
    const { slot, generation } = p.file.channel;
    const s = this.state;
    if (!this.ms.endpointState(slot, generation, s)) return this.corrupt(p.file.channel, 'write');
    if (this.peerDead) return p.done > 0 ? p.done : Errno.EPIPE;
    if (s[Endpoint.ReadersOpen] === 0 && s[Endpoint.ReaderOpens] !== p.file.epipeBaseline) {
      this.ms.markEnd(slot, generation, undefined, s[Endpoint.ReaderOpens]);
      return p.done > 0 ? p.done : Errno.EPIPE;
    }
    // PIPE_BUF atomicity: a small write goes in whole or waits.
    const atomic = p.length <= addon.constants.pipeBuf;
    const rest = p.done === 0 ? p.buf : p.buf.subarray(p.done);
    const t0 = tracer.enabled ? tracer.now() : 0;
    const n = this.ms.produce(slot, generation, rest, p.length - p.done, atomic ? p.length : 1);
    if (tracer.enabled && n > 0) tracer.add('copy.produce', tracer.now() - t0, n);
    if (n < 0) return this.corrupt(p.file.channel, 'write');
    p.done += n;
    return p.done === p.length ? p.length : undefined;
  }

  private park(kind: 'reads' | 'writes', p: Pending): void {
    if (this.closed) return p.reply(Errno.EIO);
    // The kernel may interrupt before we park; the abort event has fired then.
    if (p.signal?.aborted) return p.reply(p.done > 0 ? p.done : Errno.EINTR);
    const { slot } = p.file.channel;
    let q = this.queues.get(slot);
    if (!q) {
      q = { channel: p.file.channel, reads: [], writes: [], readerWaits: false, writerWaits: false };
      this.queues.set(slot, q);
    }
    q[kind].push(p);
    if (tracer.enabled) {
      p.parkedAt = tracer.now();
      p.parkedAs = kind;
    }
    if (p.signal) {
      p.onAbort = () => this.abort(kind, p);
      p.signal.addEventListener('abort', p.onAbort, { once: true });
    }
    this.service(slot);
  }

  private abort(kind: 'reads' | 'writes', p: Pending): void {
    const q = this.queues.get(p.file.channel.slot);
    const i = q ? q[kind].indexOf(p) : -1;
    if (!q || i < 0) return;
    q[kind].splice(i, 1);
    this.finish(p, p.done > 0 ? p.done : Errno.EINTR);
    this.service(p.file.channel.slot);
  }

  private finish(p: Pending, result: number): void {
    if (p.parkedAt !== undefined) tracer.add(p.parkedAs === 'reads' ? 'wait.read' : 'wait.write', tracer.now() - p.parkedAt);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    p.reply(result);
  }

  /**
   * Answers what can be answered on one channel, then keeps the waiting
   * flags in step with the queues. After raising a flag the rings are
   * checked once more: the peer may have moved just before it saw the flag.
   */
  private service(slot: number): void {
    const q = this.queues.get(slot);
    if (!q) return;
    for (;;) {
      q.reads = q.reads.filter((p) => {
        const r = this.tryRead(p.file, p.buf, p.length);
        if (r === undefined) return true;
        this.finish(p, r);
        return false;
      });
      while (q.writes.length > 0) {
        const r = this.tryWrite(q.writes[0]);
        if (r === undefined) break; // order matters: later writers wait behind the first
        this.finish(q.writes.shift() as Pending, r);
      }
      const readerWaits = q.reads.length > 0;
      const writerWaits = q.writes.length > 0;
      if (readerWaits === q.readerWaits && writerWaits === q.writerWaits) break;
      q.readerWaits = readerWaits;
      q.writerWaits = writerWaits;
      this.ms.setWaiting(q.channel.slot, q.channel.generation, readerWaits, writerWaits);
      if (!readerWaits && !writerWaits) break;
    }
    if (q.reads.length === 0 && q.writes.length === 0) this.queues.delete(slot);
  }
}
