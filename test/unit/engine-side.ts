// One mounted side's FIFO engine, driven the way libfuse drives it: each
// read or write runs on a thread of its own and may sleep there; an
// AbortSignal plays FUSE_INTERRUPT. The scenes in the tests read as a
// program on either VM would live them. The harness that runs those threads
// is in the test build of the addon only (native/addon_engine_harness.h),
// which npm run test:unit loads through INTERVMFS_ADDON.
import { addon, EngineOptions, Memsections, NotifyMode } from '../../src/native';
import { Peers, Scratch, SMALL, useScratch } from './helpers';

/** The test build's engine harness (addon_engine_harness.cc). */
interface EngineHarness {
  open(slot: number, generation: number, flags: number): number;
  open(name: string, flags: number): number;
  release(handle: number): number;
  flush(handle: number): number;
  read(handle: number, buf: Buffer, length: number, flags: number, onDone: (result: number) => void): number;
  write(handle: number, buf: Buffer, length: number, flags: number, onDone: (result: number) => void): number;
  interrupt(id: number): void;
  poll(handle: number, arm: boolean): number;
}

function harnessFor(ms: Memsections): EngineHarness {
  const Harness = (addon as unknown as { EngineHarness?: new (ms: Memsections) => EngineHarness }).EngineHarness;
  if (!Harness) throw new Error('the unit tests need the test build of the addon: run them with `npm run test:unit` (INTERVMFS_ADDON=build/Release/intervmfs_test.node)');
  return new Harness(ms);
}

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;

/** poll(2) events, as enginePoll answers them. */
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;

export interface ChannelRef {
  slot: number;
  generation: number;
  name: string;
}

export type Reply = (result: number) => void;

/** What a read(2) answered: the count (or a negative errno) and the bytes read. */
export interface ReadResult {
  n: number;
  data: Buffer;
}

export interface RequestOptions {
  /** FUSE_INTERRUPT once it aborts. */
  signal?: AbortSignal;
  /** The request's own open flags (fcntl after open); -1: those of the open. */
  flags?: number;
}

export class EngineSide {
  private readonly engine: EngineHarness;

  constructor(readonly ms: Memsections) {
    this.engine = harnessFor(ms);
  }

  /** A descriptor handle, or a negative errno. */
  open(ch: ChannelRef, flags: number): number {
    return this.engine.open(ch.slot, ch.generation, flags);
  }

  /** open(2) of a path in the mount: by name, as the hooks do. */
  openName(name: string, flags: number): number {
    return this.engine.open(name, flags);
  }

  release(fd: number): number {
    return this.engine.release(fd);
  }

  /** close(2) as FUSE sees it: flush now, release later. */
  flush(fd: number): number {
    return this.engine.flush(fd);
  }

  read(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal, flags = -1): void {
    this.call('read', fd, buf, length, reply, signal, flags);
  }

  write(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal, flags = -1): void {
    this.call('write', fd, buf, length, reply, signal, flags);
  }

  /** read(2) of up to `length` bytes into `into` (a fresh buffer by default). */
  readAsync(fd: number, length: number, opts: RequestOptions & { into?: Buffer } = {}): Promise<ReadResult> {
    const buf = opts.into ?? Buffer.alloc(length);
    return new Promise((resolve) =>
      this.read(fd, buf, length, (n) => resolve({ n, data: buf.subarray(0, Math.max(n, 0)) }), opts.signal, opts.flags ?? -1),
    );
  }

  /** write(2) of `data`: the count or a negative errno. */
  writeAsync(fd: number, data: Buffer, opts: RequestOptions = {}): Promise<number> {
    return new Promise((resolve) => this.write(fd, data, data.length, resolve, opts.signal, opts.flags ?? -1));
  }

  /** poll(2) events of a descriptor; `arm`: the caller will wait for a change. */
  poll(fd: number, arm = false): number {
    return this.engine.poll(fd, arm);
  }

  /** Requests sleeping in the engine. */
  get waiting(): number {
    return this.ms.engineState()?.waiting ?? 0;
  }

  /** Descriptors open in the engine. */
  get openFiles(): number {
    return this.ms.engineState()?.openFiles ?? 0;
  }

  /** Resolves once `n` requests wait in the engine (the test's timeout bounds it). */
  async untilWaiting(n: number): Promise<void> {
    while (this.waiting < n) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** Until the side's poll notifier is parked (true) or watching its bell again (false). */
  async untilNotifierParked(parked: boolean): Promise<void> {
    while ((this.ms.engineState()?.notifierParked ?? false) !== parked) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** What the daemon does at unmount: every waiting request is answered, later ones get EIO. */
  stop(): void {
    this.ms.stopEngine();
  }

  private call(op: 'read' | 'write', fd: number, buf: Buffer, length: number, reply: Reply, signal: AbortSignal | undefined, flags: number): void {
    let done = false;
    const onAbort = () => {
      if (!done) this.engine.interrupt(id);
    };
    const finish = (result: number) => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
      reply(result);
    };
    const id = op === 'read' ? this.engine.read(fd, buf, length, flags, finish) : this.engine.write(fd, buf, length, flags, finish);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }
}

/** Reads until `total` bytes have arrived, `chunk` bytes at most per read. */
export async function readExactly(svc: EngineSide, fd: number, total: number, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < total) {
    const r = await svc.readAsync(fd, Math.min(chunk, total - got));
    if (r.n <= 0) throw new Error(`read answered ${r.n} after ${got} of ${total} bytes`);
    parts.push(Buffer.from(r.data));
    got += r.n;
  }
  return Buffer.concat(parts);
}

/** Two engines over the two sides of one fresh set, and a channel between them. */
export interface EnginePair {
  scratch: Scratch;
  peers: Peers;
  paths: string[];
  control: string;
  ringSize: number;
  A: EngineSide;
  B: EngineSide;
  ch: ChannelRef;
  /** What the engines reported through onCorrupt (reportCorrupt), in order: [side, slot, generation, during]. */
  corrupt: [string, number, number, string][];
  /** A second channel of the same set, made on demand. */
  channel(name: string): Promise<ChannelRef>;
  /** Engines whose waiting requests are answered after the test (A, B, and any a test adds). */
  sides: EngineSide[];
}

export interface EnginePairOptions {
  notify?: NotifyMode;
  engine?: EngineOptions;
  capacity?: number;
  dataSize?: number;
  /**
   * Give each engine an onCorrupt that records into `corrupt`. Off by
   * default: the addon waits (up to 1 s) for onCorrupt to have run on the
   * JavaScript thread, so an engineOpen of a damaged channel, which the
   * tests call on that very thread, stalls for that second.
   */
  reportCorrupt?: boolean;
}

/**
 * A fresh EnginePair before each test: both notifiers running, a long tick
 * (a lost wake-up hangs and the test times out instead of being rescued by
 * a periodic re-check), the channel "pipe" made by side a. Waiting requests
 * are answered before the sets are closed, whether the test passed or not.
 */
export function useEnginePair(options: EnginePairOptions = {}): EnginePair {
  const notify = options.notify ?? 'futex';
  const fx = {} as EnginePair;
  const sides: EngineSide[] = [];
  // Registered before useScratch's hook, so it runs first.
  afterEach(() => {
    for (const svc of sides.splice(0)) svc.stop();
  });
  const s = useScratch();
  fx.scratch = s;
  fx.sides = sides;
  beforeEach(async () => {
    const set = s.formatted(options.capacity ?? SMALL.capacity, options.dataSize ?? SMALL.dataSize);
    fx.paths = set.paths;
    fx.control = set.paths[0];
    fx.ringSize = set.geometry.ringSize;
    const corrupt: EnginePair['corrupt'] = [];
    fx.corrupt = corrupt;
    const engineFor = (side: string): EngineOptions => ({
      tickMs: 60_000,
      ...options.engine,
      ...(options.reportCorrupt ? { onCorrupt: (slot: number, generation: number, during: string) => corrupt.push([side, slot, generation, during]) } : {}),
    });
    const a = s.open(set.paths);
    const b = s.open(set.paths);
    const epochA = a.attach(0, notify, process.pid, 'unit-a', Date.now(), engineFor('a'));
    const epochB = b.attach(1, notify, process.pid, 'unit-b', Date.now(), engineFor('b'));
    fx.peers = { a, b, epochA, epochB };
    fx.A = new EngineSide(a);
    fx.B = new EngineSide(b);
    sides.push(fx.A, fx.B);
    a.startNotifier();
    b.startNotifier();
    fx.channel = async (name: string) => {
      const r = await a.createChannel(name, 0o600, 0, 0, Date.now());
      if (r.errno !== 0) throw new Error(`createChannel(${name}) answered ${r.errno}`);
      return { slot: r.slot, generation: r.generation, name };
    };
    fx.ch = await fx.channel('pipe');
  });
  return fx;
}
