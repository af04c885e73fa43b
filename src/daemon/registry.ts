// Where running daemons are recorded, so `unmount` and `status` find them:
// one JSON file per mount point in a runtime folder (/run/intervmfs as root,
// else $XDG_RUNTIME_DIR/intervmfs or the temp folder).
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';

export interface MountRecord {
  pid: number;
  mountpoint: string;
  memsections: string;
  /** A classic set's side; an area mount has area and peer instead. */
  side?: 'a' | 'b';
  area?: number;
  peer?: string;
  notify: string;
  log: string;
  startedAtMs: number;
}

export function runtimeDir(): string {
  if (process.env.INTERVMFS_RUNTIME_DIR) return process.env.INTERVMFS_RUNTIME_DIR;
  if (process.getuid?.() === 0) return '/run/intervmfs';
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'intervmfs');
  return path.join(os.tmpdir(), `intervmfs-${process.getuid?.() ?? 'user'}`);
}

function key(mountpoint: string): string {
  return crypto.createHash('sha1').update(path.resolve(mountpoint)).digest('hex').slice(0, 16);
}

export function recordPath(mountpoint: string): string {
  return path.join(runtimeDir(), `${key(mountpoint)}.json`);
}

export function logPath(mountpoint: string): string {
  return path.join(runtimeDir(), `${key(mountpoint)}.log`);
}

export function writeRecord(r: MountRecord): void {
  fs.mkdirSync(runtimeDir(), { recursive: true, mode: 0o700 });
  fs.writeFileSync(recordPath(r.mountpoint), JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
}

export function readRecord(mountpoint: string): MountRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordPath(mountpoint), 'utf8')) as MountRecord;
  } catch {
    return undefined;
  }
}

export function removeRecord(mountpoint: string, pid = process.pid): void {
  const r = readRecord(mountpoint);
  if (r && r.pid === pid) fs.rmSync(recordPath(mountpoint), { force: true });
}

/**
 * Whether `pid` still runs. A zombie counts as gone: a killed daemon is
 * reparented (mount's child) and may wait a while to be reaped.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc to ask: kill(0) said it exists
  }
}

/** Mount points of FUSE filesystems of type intervmfs, from /proc/mounts. */
export function mountedPoints(): string[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 2 && f[2] === 'fuse.intervmfs')
    .map((f) => f[1].replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isMounted(mountpoint: string): boolean {
  return mountedPoints().includes(path.resolve(mountpoint));
}
