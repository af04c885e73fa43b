// Typed view of the native addon (native/addon.cc). The shared-memory layout
// lives only there; this file knows names and shapes, never offsets.
import path from 'path';

export interface Geometry {
  capacity: number;
  controlSize: number;
  dataSize: number;
  ringSize: number;
  data0Offset: number;
  data1Offset: number;
  formattedAtMs: number;
}

export interface SideInfo {
  attached: boolean;
  epoch: number;
  heartbeat: number;
  pid: number;
  /** 'unknown' only in a damaged (or hostile) control memsection. */
  notify: NotifyMode | 'unknown';
  mountedAtMs: number;
  host: string;
  bellsRung: number;
  /** The side's ivshmem peer id, meaningful when notify is doorbell. */
  doorbellId: number;
}

export interface RingInfo {
  head: number;
  tail: number;
  writersOpen: number;
  readersOpen: number;
  writeOps: number;
  readOps: number;
}

export interface ChannelInfo {
  slot: number;
  generation: number;
  state: 'live' | 'unlinked' | 'corrupt';
  name: string;
  mode: number;
  uid: number;
  gid: number;
  /** creation or last attribute change (chmod, chown, touch) */
  ctimeMs: number;
  atimeMs: number;
  mtimeMs: number;
  corrupt: boolean;
  why?: string;
  sideOpen: [number, number];
  /** rings[0] carries a -> b, rings[1] carries b -> a */
  rings: [RingInfo, RingInfo];
}

/** What lookupChannel() tells of a live channel. */
export type ChannelSummary = Pick<ChannelInfo, 'slot' | 'generation' | 'name' | 'mode' | 'uid' | 'gid' | 'ctimeMs' | 'atimeMs' | 'mtimeMs'>;

export interface TableResult {
  /** 0, or a negative errno (-EEXIST, -ENOSPC, -ENOENT, -ENAMETOOLONG, -EINVAL, -EBUSY), as fuse-native takes it */
  errno: number;
  slot: number;
  generation: number;
}

export type NotifyMode = 'futex' | 'poll' | 'doorbell';
export const NOTIFY_MODES: NotifyMode[] = ['futex', 'poll', 'doorbell'];

export interface EngineOptions {
  /** Spin this many microseconds on the wake word before sleeping (opt-in). */
  spinUs?: number;
  /** Count and time the engine's stages (INTERVMFS_TRACE). */
  trace?: boolean;
  /**
   * How long a write waits for the release of readers that are all inside
   * close() before it writes as if they lived on (default 100 ms).
   */
  closingWaitMs?: number;
  /**
   * Longest sleep before a waiting request re-checks on its own (default
   * 1 s, native/timing.h). Tests make it long, so a lost wake-up hangs instead of hiding.
   */
  tickMs?: number;
  /** A request found a channel's shared state impossible; it is answered EIO once this returns. */
  onCorrupt?: (slot: number, generation: number, during: string) => void;
}

export interface EngineStats {
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  waits: number;
  waitNs: number;
  copyNs: number;
}

export interface EngineState {
  /** Requests sleeping in the engine (empty ring to read, full ring to write). */
  waiting: number;
  openFiles: number;
  /** A poll notifier that parked: a whole tick with no ring and nothing here waiting. */
  notifierParked: boolean;
  stats: EngineStats;
}

/** The native hook table fuse-native calls on libfuse's threads (opaque here). */
export type FuseHooks = { readonly __brand: 'fuse_native_hooks' };

/** Memsections.portState(): where the port's session stands. */
export interface PortState {
  state: 'handshaking' | 'established' | 'closed';
  /** The last reason a session ended in error ("" if none), e.g. "protocol error from side b: ...". */
  lastError: string;
  framesIn: number;
  bytesIn: number;
  bytesOut: number;
}

export interface Memsections {
  geometry(): Geometry;
  /** Claims a side and starts its FIFO engine (native/engine); returns the side's new epoch. */
  attach(side: number, notify: NotifyMode, pid: number, host: string, nowMs: number, engine?: EngineOptions): number;
  detach(): void;
  heartbeat(): void;
  sides(): [SideInfo, SideInfo];
  tableVersion(): number;
  channels(): ChannelInfo[];
  /** The live channel of that name, without scanning the table (an index rebuilt once per table change). */
  lookupChannel(name: string): ChannelSummary | undefined;
  createChannel(name: string, mode: number, uid: number, gid: number, nowMs: number): Promise<TableResult>;
  unlinkChannel(name: string, nowMs?: number): Promise<TableResult>;
  /** chmod and chown: recorded in the channel's entry, seen by both sides. */
  setChannelAttributes(name: string, change: { mode?: number; uid?: number; gid?: number }, nowMs: number): Promise<TableResult>;
  /** When a channel was last made or removed: the directory's modification time. */
  tableChangedMs(): number;
  /** Requests sleeping in the engine, descriptors open and its counters; null before attach. */
  engineState(): EngineState | null;
  /** The peer died without detaching: our readers end (EOF once drained), our writers get EPIPE. */
  setPeerDead(dead: boolean): void;
  /** The hook table for fuse-native's `nativeHooks`. */
  fuseHooks(): FuseHooks;
  /** libfuse's loop has returned: the mount was ended from outside (fusermount -u, umount, an abort). */
  fuseLoopEnded(): boolean;
  /** The getattr that answers a mknod of `name` shows a FIFO (the kernel checks the type); later ones a regular file. */
  answerNextGetattrAsFifo(name: string): void;
  /** Answers every waiting request EIO and refuses new ones; returns requests still inside after 1 s. */
  stopEngine(): number;
  /**
   * Opens an ivshmem-doorbell device: by its sysfs BAR 0 for ringing the
   * peer only, or by its VFIO group and PCI address for ringing and for
   * waiting on its interrupt. Returns our peer id (IVPosition).
   */
  openDoorbell(bar0Path: string): number;
  openDoorbell(vfioGroup: string, bdf: string): number;
  /**
   * Makes the set a private copy kept in step with the far side's over a
   * link (native/port/link.h): `unix:PATH`, `unix-listen:PATH`, `fd:N` or a
   * virtio port such as `/dev/vport0p1`. Attach starts the port transport
   * (native/port/port_transport.h), detach flushes and stops it.
   */
  openPort(link: string): void;
  /** The port transport's session and counters. */
  portState(): PortState;
  /** Rings and (notify doorbell) sleeps through an area mount's shared device; before attach. */
  useDoorbellHub(hub: ReturnType<DoorbellHub['handle']>): void;
  /** Rings our own id; whether the interrupt arrived within timeoutMs (blocks). */
  testDoorbell(timeoutMs: number): boolean;
  /** Starts the notifier thread, in attach's notify mode: rings of our bell wake the engine's waiters (and call onRing, if given). */
  startNotifier(onRing?: () => void): void;
  stopNotifier(): void;
  close(): void;
}

/**
 * A side's channels driven from the event loop (the library, src/lib;
 * native/addon_channels.cc). Nothing here waits: where a blocking read or
 * write would sleep it answers -EAGAIN, and the caller arms poll() and
 * waits for onReady. Results are counts or negative errnos.
 */
export interface SideChannels {
  /** A handle (> 0), or -ENOENT, -EIO...; flags as open(2)'s O_RDONLY / O_WRONLY / O_RDWR. */
  open(name: string, flags: number): number;
  /** Bytes read, 0 at end of file, -EAGAIN while there is nothing yet, or another -errno. */
  read(handle: number, buffer: Buffer, length: number): number;
  /** Bytes written (up to 4096 whole or none), -EAGAIN while the ring is full, -EPIPE, ... */
  write(handle: number, buffer: Buffer, length: number): number;
  /** poll(2) events; `arm`: the peer rings us (onReady) on its next progress, until disarm(). */
  poll(handle: number, arm: boolean): number;
  disarm(handle: number): void;
  flush(handle: number): number;
  release(handle: number): number;
  /** onReady is no longer called. */
  close(): void;
}

export interface DoorbellServer {
  /** Bytes of the shared memory handed to every peer. */
  readonly shmSize: number;
  close(): void;
}

export type DoorbellServerEvent = (kind: 'connected' | 'disconnected' | 'refused' | 'error', id: number, detail: string) => void;

/** A peer attached to an area: Xen's mappings/<dom>. */
export interface AreaPeer {
  slot: number;
  epoch: number;
  heartbeat: number;
  pid: number;
  doorbellId: number;
  attachedAtMs: number;
  name: string;
  host: string;
}

/** A pair slot of an area: the memsection set two peers share. */
export interface AreaPair {
  slot: number;
  generation: number;
  /** side a, side b (names[0] sorts first) */
  names: [string, string];
  /** Where the pair's set starts in the region. */
  regionOffset: number;
}

export interface AreaInfo {
  /** Place in the registry's table. */
  index: number;
  id: number;
  size: number;
  /** Where the area starts in the region. */
  offset: number;
  pairSize: number;
  pairSlots: number;
  channels: number;
  createdAtMs: number;
  owner: string;
  corrupt: boolean;
  why?: string;
  /** Attached peers only. */
  peers: AreaPeer[];
  /** Carved pair slots only. */
  pairs: AreaPair[];
}

export interface AreaAttachRequest {
  id: number;
  peer: string;
  /** Required when the area does not exist yet; else must match. */
  areaSize?: number;
  pairSize?: number;
  channels?: number;
  host: string;
  pid: number;
  doorbellId?: number;
  nowMs: number;
  /** The name's heartbeat, seen standing still: take the dead holder's name back. */
  takeOverHeartbeat?: number;
}

export interface AreaAttachResult {
  area: AreaInfo;
  peerSlot: number;
  epoch: number;
  created: boolean;
}

/** The registry of an area region (native/area_registry.h). Throws EIVFS_* errors. */
export interface AreaRegistry {
  regionSize(): number;
  version(): number;
  changedMs(): number;
  areas(): AreaInfo[];
  attach(r: AreaAttachRequest): AreaAttachResult;
  detach(areaIndex: number, peerSlot: number, epoch: number): void;
  /** false: the mapping is no longer ours (our name was taken back). */
  heartbeat(areaIndex: number, peerSlot: number, epoch: number): boolean;
  /** The caller has checked that no live peer holds it; refused if the registry moved past `version`. */
  remove(id: number, version: number): void;
  /** The mapped region, for Memsections(region, offset, length): one mapping for all of a mount's pairs. */
  region(): RegionHandle;
  close(): void;
}

/** An area mount's ivshmem doorbell, opened once and shared by its sets (native/doorbell_hub.h). */
export interface DoorbellHub {
  /** Our ivshmem peer id (IVPosition). */
  ownId(): number;
  /** Rings our own id; whether the interrupt came back within timeoutMs (blocks; before any set uses it). */
  test(timeoutMs: number): boolean;
  handle(): { readonly __brand: 'doorbell_hub' };
  close(): void;
}

/** The hook table of an area mount: /peer/... goes to that pair's fuseHooks(). */
export interface AreaRouter {
  add(peer: string, hooks: FuseHooks): boolean;
  fuseHooks(): FuseHooks;
  fuseLoopEnded(): boolean;
}

export type RegionHandle = { readonly __brand: 'mapped_region' };

interface Addon {
  /**
   * With a window, the set is the bytes [offset, offset + length) of its one
   * region (a pair's set in an area): of the file named, or of a region an
   * AreaRegistry mapped already.
   */
  Memsections: new (paths: string[] | RegionHandle, windowOffset?: number, windowLength?: number) => Memsections;
  /** onReady: on the JavaScript thread, one call queued at a time, whenever a handle's readiness may have changed. */
  SideChannels: new (ms: Memsections, onReady: () => void) => SideChannels;
  AreaRegistry: {
    new (region: string): AreaRegistry;
    format(region: string, force: boolean): void;
    isAreaRegion(region: string): boolean;
    validPeerName(name: string): boolean;
  };
  AreaRouter: new () => AreaRouter;
  /** (vfioGroup, bdf): ring and wait; (bar0Path): ring only. */
  DoorbellHub: new (path: string, bdf?: string) => DoorbellHub;
  DoorbellServer: new (socketPath: string, shmPath: string, vectors: number, onEvent: DoorbellServerEvent) => DoorbellServer;
  format(paths: string[], capacity: number, force: boolean): Geometry;
  planFiles(capacity: number, dataSize: number): Geometry;
  planRegion(capacity: number, regionSize: number): Geometry;
  /** 0, or the negative errno a channel name is refused with. */
  checkName(name: string): number;
  constants: {
    layoutVersion: number;
    nameMax: number;
    pipeBuf: number;
    minRingSize: number;
    maxChannels: number;
    /** Liveness (native/timing.h), for src/timing.ts. */
    heartbeatMs: number;
    livenessWatchMs: number;
    peerDeadMs: number;
    registryVersion: number;
    areaCapacity: number;
    areaPeersMax: number;
    areaIdMax: number;
    peerNameMax: number;
    registrySize: number;
  };
  /** Byte offsets of layout fields (native/layout.h), for tests and `check`. */
  layout: {
    /** Every shared struct, named as docs/LAYOUT.md's headings: field -> [offset, size]. */
    fields: Record<string, Record<string, [number, number]>>;
  } & Record<
    | 'tableOffset' | 'entrySize' | 'magic' | 'layoutVersion' | 'channelCapacity' | 'headerCheck' | 'tableLock'
    | 'sideState' | 'sideStateSize' | 'sideAttached' | 'sideEpoch' | 'sideHeartbeat' | 'sideNotifyMode' | 'sideDoorbellId'
    | 'entryState' | 'entryGeneration' | 'entryName' | 'entrySideOpen' | 'entryRing'
    | 'ringStateSize' | 'ringHead' | 'ringTail' | 'ringWritersOpen' | 'ringReadersOpen'
    | 'areaTableOffset' | 'areaEntrySize' | 'registryLock' | 'registryHeaderCheck' | 'areaState' | 'areaId' | 'areaSize' | 'areaOffset'
    | 'areaPairSize' | 'areaPeers' | 'areaPairs' | 'peerMappingSize' | 'peerState' | 'peerHeartbeat' | 'peerName' | 'pairSlotSize'
    | 'pairState' | 'pairNames',
    number
  >;
}

/** Root of the package (where binding.gyp lives), from dist/src or src. */
export const packageRoot = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

// INTERVMFS_ADDON: another build of the same addon: the unit tests' build
// with the engine harness (binding.gyp's intervmfs_test), or the sanitizer's
// (scripts/sanitize.sh).
export const addon: Addon = require(process.env.INTERVMFS_ADDON ?? path.join(packageRoot, 'build', 'Release', 'intervmfs.node'));
