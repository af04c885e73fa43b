// One side of a channel set, served in the foreground: attach to the
// memsections, mount the filesystem, keep the heartbeat, and on SIGINT or
// SIGTERM answer every waiting request, unmount and detach.
//
// Threads: libfuse's worker threads serve open, read, write, release and
// poll in the native FIFO engine (native/engine, through the fuse-native
// hook) and sleep there when they must wait; the notifier thread wakes them
// when the peer rings. The JavaScript thread answers the namespace (lookup,
// mknod, unlink, readdir, getattr), keeps the heartbeat and watches the peer.
import fs from 'fs';
import path from 'path';
import type FuseType from 'fuse-native';
import { FuseHooks, Memsections, NotifyMode } from '../native';
import { tracer } from '../trace/tracer';
import { UserError } from '../errors';
import { Logger } from '../log';
import { Directory } from '../fs/directory';
import { buildOperations } from '../fs/operations';
import { Namespace, singleFolder } from '../fs/namespace';
import { AreaAttachOptions } from '../areas/registry';
import { AreaMount } from './area-mount';
import { EXIT_GRACE_MS, HEARTBEAT_MS } from '../timing';
import { liveHolder, ServedSide } from './served-side';
import { isIvshmemName, MemsectionSpec } from '../memsections/locate';
import { openDeviceDoorbell } from './doorbell';
import { openMemsections } from '../memsections/open';
import { isMounted, removeRecord, writeRecord } from './registry';
import { untilStopSignal } from './stop-signal';

export type Side = 'a' | 'b';

export interface ServeOptions {
  mountpoint: string;
  spec: MemsectionSpec;
  /** A classic set: the side this mount serves. */
  side?: Side;
  /** An area region: the area and our peer name (instead of a side). */
  area?: AreaAttachOptions;
  notify: NotifyMode;
  log: Logger;
  logFile: string;
  /** Spin this many microseconds before sleeping in a wait (0: sleep at once). */
  spinUs?: number;
  /** A classic set kept in step with the peer's copy over this link (native/port/link.h) instead of shared. */
  port?: string;
}


// SIGUSR2: Node owns SIGUSR1 (inspector). libfuse sends this signal to the
// worker thread serving an interrupted request (see patches/).
const FUSE_OPTIONS = [
  'subtype=intervmfs',
  'direct_io',
  'intr',
  'intr_signal=12',
  'big_writes',
  'max_write=131072',
  'max_read=131072',
  'entry_timeout=0',
  'attr_timeout=0',
  'negative_timeout=0',
  'default_permissions',
  'allow_other',
  // Unlink really unlinks, also while the channel is open on this mount
  // (libfuse would otherwise rename it to .fuse_hidden*): open descriptors
  // keep working until closed, as with a FIFO.
  'hard_remove',
];

/** The set as the user named it: an ivshmem name as it is, a path made absolute. */
export function mountSource(spec: MemsectionSpec): string {
  return isIvshmemName(spec.given) ? spec.given : path.resolve(spec.given);
}

/** Refuses to claim a side that a live daemon or program serves (its heartbeat moves). */
async function checkSideFree(ms: Memsections, side: Side): Promise<void> {
  const s = await liveHolder(ms, side);
  if (s) {
    throw new UserError(
      `side ${side} of this memsection set is already served by pid ${s.pid} on ${s.host || 'an unknown host'}; ` +
        `mount the other side, or unmount that one first`,
    );
  }
}

// A missing mount point is created when its parent exists (as in the
// README session, `mount mount/a` on a fresh clone); anything else that
// would make the mount fail is reported in words before trying.
function checkMountpoint(mountpoint: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(mountpoint);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`mount point ${mountpoint} cannot be used: ${(err as Error).message}`);
    if (!fs.existsSync(path.dirname(mountpoint))) {
      throw new UserError(`mount point ${mountpoint} does not exist, nor its parent folder; create it with mkdir -p ${mountpoint}`);
    }
    fs.mkdirSync(mountpoint);
    return;
  }
  if (!st.isDirectory()) throw new UserError(`mount point ${mountpoint} is not a directory`);
  if (isMounted(mountpoint)) throw new UserError(`mount point ${mountpoint} is busy: intervmfs is already mounted there`);
  if (fs.readdirSync(mountpoint).length > 0) throw new UserError(`mount point ${mountpoint} is not empty`);
}

export class Daemon {
  private sides: ServedSide[] = [];
  private area?: AreaMount;
  private fuse?: FuseType;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private stopTrace?: () => void;
  private releaseDoorbell?: () => void;
  private resolveEnded?: () => void;
  /** Resolves when the mount was ended from outside (fusermount -u, umount, an aborted connection). */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(private readonly opts: ServeOptions) {}

  /** A classic set: one side, the root its folder. */
  private async startSide(side: Side): Promise<{ namespace: Namespace; hooks: FuseHooks; label: Record<string, unknown> }> {
    const { opts } = this;
    const ms = openMemsections(opts.spec);
    const served = new ServedSide(ms, side === 'a' ? 0 : 1, {}, opts.log);
    this.sides = [served];
    await checkSideFree(ms, side);
    if (opts.port) served.openPort(opts.port);
    openDeviceDoorbell(
      opts.spec,
      opts.notify,
      opts.log,
      { open: (first, bdf) => (bdf ? ms.openDoorbell(first, bdf) : ms.openDoorbell(first)), test: (ms_) => ms.testDoorbell(ms_) },
      (release) => (this.releaseDoorbell = release),
    );
    const epoch = served.attach(opts.notify, opts.spinUs ?? 0);
    this.stopTrace = tracer.startWriting(side, () => ms.engineState());
    return { namespace: singleFolder({ ms, directory: new Directory(ms, opts.log) }), hooks: ms.fuseHooks(), label: { side, epoch, geometry: ms.geometry() } };
  }

  /** An area: a folder per other peer, each its pair's set. */
  private async startArea(o: AreaAttachOptions): Promise<{ namespace: Namespace; hooks: FuseHooks; label: Record<string, unknown> }> {
    const { opts } = this;
    const area = new AreaMount(opts.spec, o, opts.notify, opts.spinUs ?? 0, opts.log, (release) => (this.releaseDoorbell = release));
    this.area = area;
    const { created, area: info } = await area.start();
    if (created) opts.log.info({ area: o.id, size: info.size, pairSize: info.pairSize, offset: info.offset }, 'area created');
    return { namespace: area.namespace(), hooks: area.router.fuseHooks(), label: { area: o.id, peer: o.peer, created } };
  }

  private loopEnded(): boolean {
    return this.area ? this.area.router.fuseLoopEnded() : (this.sides[0]?.ms.fuseLoopEnded() ?? false);
  }

  async start(): Promise<void> {
    const { opts } = this;
    const mountpoint = path.resolve(opts.mountpoint);
    checkMountpoint(mountpoint);
    try {
      const { namespace, hooks, label } = opts.area ? await this.startArea(opts.area) : await this.startSide(opts.side ?? 'a');
      this.timer = setInterval(() => {
        if (this.fuse && this.loopEnded()) {
          // The kernel connection is gone: this daemon has nothing left to serve.
          opts.log.info({ mountpoint }, 'the mount was ended from outside (fusermount -u, umount or an abort); stopping');
          this.resolveEnded?.();
          return;
        }
        const now = Date.now();
        this.area?.tick(now);
        for (const s of this.sides) s.tick(now);
      }, HEARTBEAT_MS);
      const ops = buildOperations({ namespace, log: opts.log, mountedAt: new Date(), isStopped: () => this.stopped });
      // Loaded here, not at start-up: commands that do not mount never need libfuse.
      const Fuse: typeof FuseType = require('fuse-native');
      // The memsection set is the mount's source in /proc/mounts, df and
      // findmnt, as the remote is for sshfs.
      const options = [`fsname=${mountSource(opts.spec)}`, ...FUSE_OPTIONS];
      const fuse = new Fuse(mountpoint, ops, { timeout: false, options, nativeHooks: hooks });
      await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
      this.fuse = fuse;
      writeRecord({
        pid: process.pid,
        mountpoint,
        memsections: opts.spec.given,
        side: opts.side,
        area: opts.area?.id,
        peer: opts.area?.peer,
        notify: opts.notify,
        log: opts.logFile,
        startedAtMs: Date.now(),
      });
      opts.log.info({ mountpoint, notify: opts.notify, ...label }, 'mounted');
    } catch (err) {
      await this.stop();
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot mount ${mountpoint}: ${(err as Error).message}`);
    }
  }

  /** Answers waiting requests, unmounts, detaches. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { log, mountpoint } = this.opts;
    if (this.timer) clearInterval(this.timer);
    const endedOutside = this.loopEnded();
    // Programs blocked in read or write get EIO now instead of an aborted
    // connection later; requests that come after are answered EIO too.
    this.stopTrace?.(); // the last snapshot, while the engine's counters are still there
    this.stopped = true;
    let left = this.area?.stopEngines() ?? 0;
    for (const s of this.sides) left += s.stopEngine();
    if (left > 0) log.warn({ requests: left }, 'requests still inside the engine after 1 s; keeping the memsections mapped for them');
    if (this.fuse) {
      const fuse = this.fuse;
      await new Promise<void>((resolve) =>
        fuse.unmount((err) => {
          // Ended from outside, there is nothing left to unmount; the call
          // still releases fuse-native's hold on the event loop.
          if (err && !endedOutside) log.error({ err }, 'unmount failed');
          resolve();
        }),
      );
      log.info({ mountpoint }, endedOutside ? 'unmounted from outside' : 'unmounted');
    }
    for (const s of this.sides) s.finish();
    this.sides = [];
    this.area?.finish();
    this.releaseDoorbell?.(); // after close: the VFIO files must be closed first
    removeRecord(path.resolve(mountpoint));
  }
}

/**
 * Serves until SIGINT, SIGTERM or SIGHUP, or until the mount is ended from
 * outside; `onReady` runs once the mount is up.
 */
export async function serveForeground(opts: ServeOptions, onReady: () => void): Promise<void> {
  const daemon = new Daemon(opts);
  await daemon.start();
  onReady();
  await Promise.race([untilStopSignal(opts.log), daemon.ended]);
  await daemon.stop().catch(() => undefined); // the foreground run ends either way
  // Served and cleaned up: nothing may keep this process alive now (a
  // native handle left behind would otherwise hold the event loop, and the
  // stop signals are taken). The logger writes synchronously.
  setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
}
