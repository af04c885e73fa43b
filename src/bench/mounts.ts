// The FUSE mounts the bench makes under its work folder, found in
// /proc/mounts, and a lazy unmount that needs no daemon to answer: the
// last resort before the folder is removed, so that a crashed or stuck
// daemon never leaves a mount behind (and rm never walks into a live one).
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';

/** Mount points in /proc/mounts text, with its octal escapes (\040 for a space) decoded. */
export function parseMountpoints(procMounts: string): string[] {
  return procMounts
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((m): m is string => m !== undefined && m !== '')
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** Mount points strictly inside `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string, procMounts = fs.readFileSync('/proc/mounts', 'utf8')): string[] {
  const prefix = path.resolve(dir) + path.sep;
  return parseMountpoints(procMounts)
    .filter((m) => m.startsWith(prefix))
    .sort((x, y) => y.length - x.length);
}

/** The fusermount that fuse-shared-library-linux ships (as patches/ finds it), or the one on PATH. */
function fusermount(): string {
  try {
    const lib: string = require('fuse-shared-library').lib;
    const shipped = path.join(path.dirname(lib), '..', 'bin', 'fusermount');
    if (fs.existsSync(shipped)) return shipped;
  } catch {
    /* not installed: try PATH */
  }
  return 'fusermount';
}

/** Detaches `mountpoint` at once (fusermount -uz, else umount -l); returns why it failed, or undefined. */
export function unmountLazily(mountpoint: string): string | undefined {
  const errors: string[] = [];
  for (const [cmd, args] of [
    [fusermount(), ['-uz', mountpoint]],
    ['umount', ['-l', mountpoint]],
  ] as const) {
    try {
      execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      return undefined;
    } catch (err) {
      errors.push(`${path.basename(cmd)}: ${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()}`);
    }
  }
  return `cannot unmount ${mountpoint} (${errors.join('; ')})`;
}
