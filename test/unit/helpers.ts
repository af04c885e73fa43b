// Shared fixtures of the unit tests: temporary memsection sets in
// os.tmpdir() (never /dev/shm), two addon instances attached as side a and
// side b of one set, and a way to scribble on the control memsection the
// way a buggy or hostile peer would. Every field offset comes from
// `addon.layout`; nothing here knows the layout by itself.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { addon, Geometry, Memsections, NotifyMode, EngineOptions } from '../../src/native';
import { MEMSECTION_FILES } from '../../src/memsections/locate';

export const L = addon.layout;

// fast-check v4 ships declarations that only resolve under moduleResolution
// node16 or later, and this project compiles with "node": load it untyped and
// describe here the part of its API these tests use.
export interface Arbitrary<T> {
  readonly __type?: T;
}
export interface AsyncProperty {
  readonly __async: true;
}
interface FastCheck {
  assert(property: AsyncProperty, params?: { numRuns?: number; seed?: number }): Promise<void>;
  assert(property: unknown, params?: { numRuns?: number; seed?: number }): void;
  property<T>(arb: Arbitrary<T>, predicate: (value: T) => boolean | void): unknown;
  asyncProperty<T>(arb: Arbitrary<T>, predicate: (value: T) => Promise<boolean | void>): AsyncProperty;
  integer(constraints: { min: number; max: number }): Arbitrary<number>;
  constant<T>(value: T): Arbitrary<T>;
  constantFrom<T>(...values: T[]): Arbitrary<T>;
  boolean(): Arbitrary<boolean>;
  oneof<T>(...arbs: Arbitrary<T>[]): Arbitrary<T>;
  record<T extends object>(shape: { [K in keyof T]: Arbitrary<T[K]> }): Arbitrary<T>;
  array<T>(arb: Arbitrary<T>, constraints?: { minLength?: number; maxLength?: number }): Arbitrary<T[]>;
}
export const fc: FastCheck = require('fast-check');
export const SIDE_A = 0;
export const SIDE_B = 1;

/** Errno values as the addon answers them: negative, as everywhere (src/errno.ts). */
export const EIO = -5;
export const EBUSY = -16;
export const EEXIST = -17;
export const EINVAL = -22;
export const ENOSPC = -28;
export const ENAMETOOLONG = -36;

/** A small set: 4 channels with rings of the minimum size (8 KiB each way). */
export const SMALL = { capacity: 4, dataSize: 4 * addon.constants.minRingSize };

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 'pending' when `p` has not settled within `ms`, else 'settled'. */
export async function stateAfter(p: Promise<unknown>, ms = 100): Promise<'pending' | 'settled'> {
  return Promise.race([p.then(() => 'settled' as const, () => 'settled' as const), delay(ms).then(() => 'pending' as const)]);
}

/** A recognisable, non-periodic byte for stream position `i`. */
export function patternByte(i: number): number {
  return Math.imul(i + 1, 2654435761) >>> 24;
}

export function pattern(start: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = patternByte(start + i);
  return b;
}

export interface Peers {
  a: Memsections;
  b: Memsections;
  epochA: number;
  epochB: number;
}

/**
 * Owns everything a test creates: temp folders and open addon instances.
 * `useScratch()` registers an afterEach that releases all of it, whether the
 * test passed or not.
 */
export class Scratch {
  private readonly dirs: string[] = [];
  private readonly sets: Memsections[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-unit-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Three files named control, data0, data1 in a fresh folder, zero-filled. */
  files(capacity = SMALL.capacity, dataSize = SMALL.dataSize): string[] {
    const dir = this.tempDir();
    const plan = addon.planFiles(capacity, dataSize);
    const paths = MEMSECTION_FILES.map((f) => path.join(dir, f));
    sizeFile(paths[0], plan.controlSize);
    sizeFile(paths[1], plan.dataSize);
    sizeFile(paths[2], plan.dataSize);
    return paths;
  }

  /** A formatted three-file set. */
  formatted(capacity = SMALL.capacity, dataSize = SMALL.dataSize): { paths: string[]; geometry: Geometry } {
    const paths = this.files(capacity, dataSize);
    return { paths, geometry: addon.format(paths, capacity, false) };
  }

  /** One zero-filled file of `size` bytes, for a single-region set. */
  region(size: number): string {
    const file = path.join(this.tempDir(), 'region');
    sizeFile(file, size);
    return file;
  }

  /** Maps a set; the instance is stopped and closed after the test. */
  open(paths: string[]): Memsections {
    const ms = new addon.Memsections(paths);
    this.sets.push(ms);
    return ms;
  }

  /** Two instances over one set, attached as side a and side b. */
  peers(paths: string[], notify: NotifyMode = 'futex', engine?: EngineOptions): Peers {
    const a = this.open(paths);
    const b = this.open(paths);
    const epochA = a.attach(SIDE_A, notify, process.pid, 'unit-a', Date.now(), engine);
    const epochB = b.attach(SIDE_B, notify, process.pid, 'unit-b', Date.now(), engine);
    return { a, b, epochA, epochB };
  }

  /** setInterval that is cleared after the test even when it fails. */
  every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(fn, ms);
    this.timers.push(t);
    return t;
  }

  cleanup(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const ms of this.sets.splice(0)) {
      try {
        ms.stopNotifier();
      } catch {
        /* already closed */
      }
      try {
        ms.close();
      } catch {
        /* already closed */
      }
    }
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function useScratch(): Scratch {
  const s = new Scratch();
  afterEach(() => s.cleanup());
  return s;
}

export function sizeFile(file: string, size: number): void {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

// --- reading and scribbling shared memory through the control file ----------
// The addon maps the files MAP_SHARED, so write(2) to the file lands in the
// very pages both instances see.

export function pwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function pread(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

export function writeU32(file: string, offset: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  pwrite(file, offset, b);
}

export function writeU64(file: string, offset: number, value: bigint): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, value));
  pwrite(file, offset, b);
}

export function readU32(file: string, offset: number): number {
  return pread(file, offset, 4).readUInt32LE();
}

export function readU64(file: string, offset: number): bigint {
  return pread(file, offset, 8).readBigUInt64LE();
}

export function entryOffset(slot: number): number {
  return L.tableOffset + slot * L.entrySize;
}

/** Offset of the ring state of `direction` (0: a -> b, 1: b -> a) of a slot. */
export function ringStateOffset(slot: number, direction: number): number {
  return entryOffset(slot) + L.entryRing + direction * L.ringStateSize;
}

export function sideOffset(side: number): number {
  return L.sideState + side * L.sideStateSize;
}

/** The owner word a side's mount writes into the table lock (lock_owner in channel_table.h). */
export function lockOwner(side: number, epoch: number): bigint {
  return (BigInt(epoch) << 8n) | BigInt(side + 1);
}

/** Runs `fn`, which must throw; returns the error for further checks. */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}

export async function rejected(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, the promise resolved');
}
