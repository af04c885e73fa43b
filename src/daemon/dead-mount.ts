// A mount point left behind by a daemon that died (kill -9, a crash): the
// kernel still lists the FUSE mount, and every access to it fails with
// "Transport endpoint is not connected". Ours (type fuse.intervmfs, no live
// daemon recorded for it) is cleaned up so the next mount can go there;
// anything else gets a line that names the fix.
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { UserError } from '../errors';
import { isAlive, mountedPoints, readRecord, removeRecord } from './registry';

function mountTypeAt(mountpoint: string): string | undefined {
  let text = '';
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  let type: string | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 2 && unescape(f[1]) === mountpoint) type = f[2]; // the last one is on top
  }
  return type;
}

/**
 * Cleans up a dead intervmfs mount on `mountpoint`; returns the line to tell
 * the user, or undefined when there was none. Throws a UserError for a dead
 * mount of another kind or one whose daemon still lives.
 */
export function reclaimDeadMount(given: string): string | undefined {
  const mountpoint = path.resolve(given);
  try {
    fs.statSync(mountpoint);
    return undefined; // reachable: checkMountpoint judges it
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTCONN' && code !== 'ECONNABORTED') return undefined;
  }
  const type = mountTypeAt(mountpoint);
  if (type !== 'fuse.intervmfs') {
    throw new UserError(`mount point ${given} is a dead ${type ?? 'FUSE'} mount (Transport endpoint is not connected); unmount it first: umount -l ${mountpoint}`);
  }
  const record = readRecord(mountpoint);
  if (record && isAlive(record.pid)) {
    throw new UserError(`mount point ${given} does not answer, but its daemon (pid ${record.pid}) still runs; stop it with intervmfs unmount --force ${given}`);
  }
  const r = spawnSync('umount', ['-l', mountpoint], { encoding: 'utf8' });
  if (r.status !== 0 && mountedPoints().includes(mountpoint)) {
    throw new UserError(`mount point ${given} is a dead intervmfs mount and cannot be cleaned up: ${(r.stderr || '').trim() || 'umount -l failed'}`);
  }
  if (record) removeRecord(mountpoint, record.pid);
  return `mount point ${given} was left by a dead intervmfs daemon${record ? ` (pid ${record.pid})` : ''}; cleaned it up`;
}
