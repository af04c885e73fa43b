// `intervmfs format`: creates (for a folder) and formats a memsection set.
import fs from 'fs';
import path from 'path';
import { addon, Geometry } from '../native';
import { watchHeartbeats } from '../timing';
import { sideBeats } from './status';
import { asUserError, UserError } from '../errors';
import { MemsectionSpec } from './locate';

export interface FormatOptions {
  channels: number;
  dataSize: number;
  force: boolean;
}

export const FORMAT_DEFAULTS: FormatOptions = { channels: 64, dataSize: 64 * 1024 * 1024, force: false };

function isFormatted(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const magic = Buffer.alloc(8);
    return fs.readSync(fd, magic, 0, 8, 0) === 8 && !magic.equals(Buffer.alloc(8));
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates or resizes a memsection file, readable and writable by its owner only. */
export function sizeFile(file: string, size: number): void {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses to erase a set that a live daemon serves, even with --force. */
async function checkNotInUse(spec: MemsectionSpec): Promise<void> {
  let ms;
  try {
    ms = new addon.Memsections(spec.paths);
  } catch {
    return; // not a valid set: nobody can be using it
  }
  try {
    const { alive, last } = await watchHeartbeats(() => sideBeats(ms));
    const names = [...alive].sort().map((side) => `side ${side} (pid ${last.get(side)!.pid})`);
    if (names.length > 0) throw new UserError(`memsection set ${spec.given} is in use by ${names.join(' and ')}; unmount before formatting`);
  } finally {
    ms.close();
  }
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Whether a folder lives in memory (tmpfs, as /dev/shm and a host's ivshmem
 * backing file do). On a disk filesystem the kernel keeps writing the
 * touched ring pages back to disk, which costs every transfer.
 */
export function inMemory(folder: string): boolean {
  try {
    return fs.statfsSync(folder).type === TMPFS_MAGIC;
  } catch {
    return true; // cannot tell: say nothing
  }
}

export async function formatMemsections(spec: MemsectionSpec, opts: FormatOptions): Promise<Geometry> {
  if (opts.force) await checkNotInUse(spec);
  if (!Number.isInteger(opts.channels) || opts.channels < 1 || opts.channels > addon.constants.maxChannels) {
    throw new UserError(`--channels must be between 1 and ${addon.constants.maxChannels}, got ${opts.channels}`);
  }
  try {
    if (spec.kind === 'folder') {
      // Check before touching any file: resizing would already destroy data.
      if (!opts.force && isFormatted(spec.paths[0])) {
        throw new UserError(`memsection set ${spec.given} is already formatted; add --force to erase its channels and format it again`);
      }
      const plan = addon.planFiles(opts.channels, opts.dataSize);
      fs.mkdirSync(path.dirname(spec.paths[0]), { recursive: true, mode: 0o700 });
      sizeFile(spec.paths[0], plan.controlSize);
      sizeFile(spec.paths[1], plan.dataSize);
      sizeFile(spec.paths[2], plan.dataSize);
    } else if (!fs.existsSync(spec.paths[0])) {
      throw new UserError(`memsection region ${spec.paths[0]} does not exist`);
    }
    return addon.format(spec.paths, opts.channels, opts.force);
  } catch (err) {
    return asUserError(err);
  }
}
