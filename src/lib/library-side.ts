// One side of a memsection set that this process claims for its channel
// streams: attached as a mount attaches it (ServedSide: the claim in our
// pid's name, the notifier thread, the heartbeat, the watch on the peer),
// when the first channel on it opens, and detached when the last one
// closes, so that the side can be mounted again and the process can exit.
// One per (set, side) per process, shared by the streams opened on it; its
// one onReady wakes whichever of them wait. Decision 0016.
import { addon, Memsections, NotifyMode, SideChannels } from '../native';
import { silentLogger } from '../log';
import { UserError } from '../errors';
import { Errno } from '../errno';
import { chooseNotifier, locateMemsections, MemsectionSpec } from '../memsections/locate';
import { openDeviceDoorbell } from '../daemon/doorbell';
import { liveHolder, ServedSide } from '../daemon/served-side';
import { CHANNEL_RECHECK_MS, HEARTBEAT_MS } from '../timing';
import { codedError, errnoError } from './errors';
import { HandleWait, WaitHost } from './handle-wait';

export type SideName = 'a' | 'b';
/** futex between processes of one machine (the default there), poll between guests (the default on an ivshmem device). */
export type LibraryNotify = 'futex' | 'poll';

export interface SideRequest {
  /** The set, as `--memsections` names it: a folder of three files, one file or region, `ivshmem[:<bdf>]`. */
  memsections: string;
  side: SideName;
  notify?: LibraryNotify;
}

/** Throws a TypeError at the first field of the side's options that is wrong; `what` is the caller's name. */
export function checkSideRequest(opts: SideRequest, what: string): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what} needs an options object`);
  if (typeof opts.memsections !== 'string') throw new TypeError('memsections must be a string: the set, as --memsections names it');
  if (opts.side !== 'a' && opts.side !== 'b') throw new TypeError("side must be 'a' or 'b'");
  if (opts.notify !== undefined && opts.notify !== 'futex' && opts.notify !== 'poll') throw new TypeError("notify must be 'futex' or 'poll'");
}

const held = new Map<string, LibrarySide>();
let exitHooked = false;

// A program that exits with streams still open gives its sides up on the
// way out, as a mount does at its end: the peer's readers see end of file
// and its writers EPIPE now, not once its heartbeat watch calls us dead.
// (An 'exit' listener does not hold the event loop.)
function detachAllAtExit(): void {
  for (const s of [...held.values()]) s.finish();
}

/** locateMemsections and chooseNotifier speak to a CLI user; the library's callers get codes. */
function asCoded<T>(code: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UserError) throw codedError(code, err.message);
    throw err;
  }
}

export class LibrarySide implements WaitHost {
  readonly ms: Memsections;
  readonly channels: SideChannels;
  readonly notify: NotifyMode;
  /** The handles our servers listen on (server.ts): one listener per handle and side. */
  readonly listening = new Set<string>();
  private readonly served: ServedSide;
  private readonly ready: Promise<void>;
  private readonly parked = new Set<HandleWait>();
  private users = 0;
  private finished = false;
  private heartbeat?: NodeJS.Timeout;
  private recheck?: NodeJS.Timeout;
  private releaseDoorbell?: () => void;

  /** The side of that set, attached, shared with the streams open on it already; give it back with release(). */
  static async acquire(req: SideRequest): Promise<LibrarySide> {
    const spec = asCoded('ENOENT', () => locateMemsections(req.memsections));
    const key = `${spec.paths.join('\n')}\n${req.side}`;
    let s = held.get(key);
    if (s && req.notify && req.notify !== s.notify) {
      throw codedError('EINVAL', `side ${req.side} of ${req.memsections} is already attached by this process with notify ${s.notify}, not ${req.notify}`);
    }
    if (!s) {
      s = new LibrarySide(key, spec, req);
      held.set(key, s);
      if (!exitHooked) process.once('exit', detachAllAtExit);
      exitHooked = true;
    }
    s.users++;
    try {
      await s.ready;
    } catch (err) {
      s.release();
      throw err;
    }
    return s;
  }

  private constructor(
    private readonly key: string,
    private readonly spec: MemsectionSpec,
    private readonly req: SideRequest,
  ) {
    if ((req.notify as string) === 'doorbell') throw codedError('ENOTSUP', 'the library does not wait on doorbell interrupts yet; use notify poll in a guest');
    this.notify = asCoded('EINVAL', () => chooseNotifier(spec, req.notify));
    this.ms = new addon.Memsections(spec.paths);
    try {
      this.channels = new addon.SideChannels(this.ms, () => this.wakeAll());
    } catch (err) {
      this.ms.close();
      throw err;
    }
    this.served = new ServedSide(this.ms, req.side === 'a' ? 0 : 1, { side: req.side }, silentLogger);
    this.ready = this.start();
    this.ready.catch(() => this.forget()); // a later open tries afresh
  }

  /** Claims the side, as a mount does: refused while someone alive serves it. */
  private async start(): Promise<void> {
    const { ms, req } = this;
    const holder = await liveHolder(ms, req.side);
    if (holder) {
      throw codedError('EBUSY', `side ${req.side} of ${req.memsections} is already served by pid ${holder.pid} on ${holder.host || 'an unknown host'}`);
    }
    // On an ivshmem device: its registers, so a doorbell peer hears our rings.
    openDeviceDoorbell(this.spec, this.notify, silentLogger, { open: (bar0) => ms.openDoorbell(bar0), test: () => false }, (r) => (this.releaseDoorbell = r));
    this.served.attach(this.notify, 0, false);
    // Unref'd: a heartbeat must not keep the program alive; a waiting stream does (park).
    this.heartbeat = setInterval(() => this.served.tick(Date.now()), HEARTBEAT_MS).unref();
  }

  /** Whether the other side's holder died attached: its channels ended without its closing them. */
  get peerDied(): boolean {
    return this.served.peerDied;
  }

  /** mknod: a new channel, ours as a file would be; one that exists already is fine unless `exclusive`. */
  async create(name: string, mode: number, exclusive = false): Promise<void> {
    const r = await this.ms.createChannel(name, mode & 0o7777, process.getuid?.() ?? 0, process.getgid?.() ?? 0, Date.now());
    if (r.errno !== 0 && (exclusive || r.errno !== Errno.EEXIST)) throw errnoError(r.errno, 'mknod', name);
  }

  /** unlink: the name goes now, the channel once nobody on either side has it open. */
  async remove(name: string): Promise<void> {
    const r = await this.ms.unlinkChannel(name, Date.now());
    if (r.errno !== 0) throw errnoError(r.errno, 'unlink', name);
  }

  /** A stream closed: the last one detaches the side. */
  release(): void {
    if (--this.users > 0) return;
    this.finish();
  }

  // A waiting stream holds the event loop open, as a socket with a read
  // pending does, through the re-check timer; nothing else of ours does.
  park(w: HandleWait): void {
    this.parked.add(w);
    this.recheck ??= setInterval(() => this.wakeAll(), CHANNEL_RECHECK_MS);
  }

  unpark(w: HandleWait): void {
    this.parked.delete(w);
    if (this.parked.size === 0 && this.recheck) {
      clearInterval(this.recheck);
      this.recheck = undefined;
    }
  }

  private wakeAll(): void {
    for (const w of [...this.parked]) w.wake();
  }

  private forget(): void {
    if (held.get(this.key) === this) held.delete(this.key);
  }

  /** Detaches the side and lets the set go (the last stream closed, or the program exits). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.forget();
    clearInterval(this.heartbeat);
    clearInterval(this.recheck);
    this.parked.clear();
    this.served.stopEngine();
    this.served.finish(); // notifier, detach, unmap
    this.channels.close();
    this.releaseDoorbell?.();
  }
}
