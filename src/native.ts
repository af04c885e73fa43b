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
  ctimeMs: number;
  corrupt: boolean;
  why?: string;
  sideOpen: [number, number];
  /** rings[0] carries a -> b, rings[1] carries b -> a */
  rings: [RingInfo, RingInfo];
}

export interface TableResult {
  /** 0, or a positive errno (EEXIST, ENOSPC, ENOENT, ENAMETOOLONG, EINVAL, EBUSY) */
  errno: number;
  slot: number;
  generation: number;
}

export type NotifyMode = 'futex' | 'poll' | 'doorbell';
export const NOTIFY_MODES: NotifyMode[] = ['futex', 'poll', 'doorbell'];

/** Indices into the Float64Array filled by endpointState(). */
export const enum Endpoint {
  InFill = 0,
  WritersOpen = 1,
  WriterOpens = 2,
  EofMark = 3,
  OutSpace = 4,
  ReadersOpen = 5,
  ReaderOpens = 6,
  EpipeMark = 7,
  PeerAttached = 8,
  Length = 9,
}

export interface Memsections {
  geometry(): Geometry;
  attach(side: number, notify: NotifyMode, pid: number, host: string, nowMs: number): number;
  detach(): void;
  heartbeat(): void;
  sides(): [SideInfo, SideInfo];
  tableVersion(): number;
  channels(): ChannelInfo[];
  createChannel(name: string, mode: number, uid: number, gid: number, nowMs: number): Promise<TableResult>;
  unlinkChannel(name: string): Promise<TableResult>;
  sweep(): Promise<TableResult>;
  /** Bytes copied from the inbound ring into buf (0 when empty), or -EIO. */
  consume(slot: number, generation: number, buf: Buffer, length: number): number;
  /** Bytes copied from buf into the outbound ring (0 when fewer than minLength fit), or -EIO. */
  produce(slot: number, generation: number, buf: Buffer, length: number, minLength: number): number;
  endpointState(slot: number, generation: number, out: Float64Array): boolean;
  adjustOpen(slot: number, generation: number, reading: boolean, writing: boolean, delta: 1 | -1): boolean;
  markEnd(slot: number, generation: number, eofMark: number | undefined, epipeMark: number | undefined): boolean;
  setWaiting(slot: number, generation: number, readerWaits: boolean, writerWaits: boolean): boolean;
  /**
   * Opens an ivshmem-doorbell device: by its sysfs BAR 0 for ringing the
   * peer only, or by its VFIO group and PCI address for ringing and for
   * waiting on its interrupt. Returns our peer id (IVPosition).
   */
  openDoorbell(bar0Path: string): number;
  openDoorbell(vfioGroup: string, bdf: string): number;
  /** Rings our own id; whether the interrupt arrived within timeoutMs (blocks). */
  testDoorbell(timeoutMs: number): boolean;
  startNotifier(mode: NotifyMode, onRing: () => void): void;
  stopNotifier(): void;
  close(): void;
}

export interface DoorbellServer {
  /** Bytes of the shared memory handed to every peer. */
  readonly shmSize: number;
  close(): void;
}

export type DoorbellServerEvent = (kind: 'connected' | 'disconnected' | 'refused' | 'error', id: number, detail: string) => void;

interface Addon {
  Memsections: new (paths: string[]) => Memsections;
  DoorbellServer: new (socketPath: string, shmPath: string, vectors: number, onEvent: DoorbellServerEvent) => DoorbellServer;
  format(paths: string[], capacity: number, force: boolean): Geometry;
  planFiles(capacity: number, dataSize: number): Geometry;
  planRegion(capacity: number, regionSize: number): Geometry;
  /** 0, or the positive errno a channel name is refused with. */
  checkName(name: string): number;
  constants: {
    layoutVersion: number;
    nameMax: number;
    pipeBuf: number;
    minRingSize: number;
    maxChannels: number;
  };
  /** Byte offsets of layout fields (native/layout.h), for tests and `check`. */
  layout: Record<
    | 'tableOffset' | 'entrySize' | 'magic' | 'layoutVersion' | 'channelCapacity' | 'headerCheck' | 'tableLock'
    | 'sideState' | 'sideStateSize' | 'sideAttached' | 'sideEpoch' | 'sideHeartbeat' | 'sideNotifyMode' | 'sideDoorbellId'
    | 'entryState' | 'entryGeneration' | 'entryName' | 'entrySideOpen' | 'entryRing'
    | 'ringStateSize' | 'ringHead' | 'ringTail' | 'ringWritersOpen' | 'ringReadersOpen',
    number
  >;
}

/** Root of the package (where binding.gyp lives), from dist/src or src. */
export const packageRoot = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

// INTERVMFS_ADDON: another build of the same addon, for the sanitizer run
// (scripts/sanitize.sh).
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: Addon = require(process.env.INTERVMFS_ADDON ?? path.join(packageRoot, 'build', 'Release', 'intervmfs.node'));
