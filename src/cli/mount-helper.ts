// The calling convention of mount(8) and fstab: `mount -t fuse.intervmfs
// SOURCE MOUNTPOINT -o side=a,...` runs the fuse package's mount.fuse helper,
// which runs `intervmfs SOURCE MOUNTPOINT -o OPTIONS` (the type after `fuse.`
// is the program, found on PATH) and expects it to return once mounted, as
// `intervmfs mount` does. This turns that form into the `mount` command.
import { UserError } from '../errors';
import { NOTIFY_MODES, NotifyMode } from '../native';

/** Options of the intervmfs mount form, and the `mount` flags they stand for. */
export const MOUNT_OPTIONS: Record<string, string> = {
  side: '--side',
  area: '--area',
  peer: '--peer',
  'area-size': '--area-size',
  'pair-size': '--pair-size',
  'pair-channels': '--pair-channels',
  notify: '--notify',
  'spin-us': '--spin-us',
  log: '--log',
  port: '--port',
};

/**
 * Options mount(8), mount.fuse or fstab hand over that mean nothing to a
 * channel set: accepted and ignored. (mount.fuse itself drops user, nofail,
 * noauto and _netdev and adds dev,suid; with fuse 2's helper, or when called
 * by hand, they may arrive.) `x-*` and `comment=*` are fstab comments for
 * systemd and others.
 */
export const IGNORED_MOUNT_OPTIONS = new Set([
  'defaults', 'rw', 'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group',
  '_netdev', 'nofail', 'dev', 'nodev', 'suid', 'nosuid', 'exec', 'noexec',
  'async', 'atime', 'noatime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime',
  'lazytime', 'nolazytime', 'diratime', 'nodiratime', 'silent', 'loud',
]);

const USAGE =
  'usage: intervmfs SOURCE MOUNTPOINT -o side=a|b[,notify=futex|poll|doorbell][,spin-us=N][,log=FILE][,port=LINK] ' +
  'or -o area=ID,peer=NAME[,area-size=SIZE][,pair-size=SIZE][,pair-channels=N][,notify=...] ' +
  '(the form `mount -t fuse.intervmfs` and fstab use; SOURCE is a memsection set: a folder, a file or region, or ivshmem[:<bdf>])';

/**
 * `intervmfs SOURCE MOUNTPOINT -o OPTIONS` (args without node and the script)
 * as the arguments of `intervmfs mount`, or undefined when args are not that
 * form (they start with a command or a flag, or have neither two operands
 * nor -o). Throws a UserError for a malformed mount form.
 */
export function fromMountHelper(args: readonly string[], commands: ReadonlySet<string>): string[] | undefined {
  if (args.length === 0 || args[0].startsWith('-') || commands.has(args[0])) return undefined;
  const operands: string[] = [];
  const options: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-o') {
      if (i + 1 >= args.length) throw new UserError(`-o needs a list of options; ${USAGE}`);
      options.push(...args[++i].split(','));
    } else if (a.startsWith('-o')) {
      options.push(...a.slice(2).split(','));
    } else if (a.startsWith('-')) {
      throw new UserError(`unexpected ${a} in the mount form; ${USAGE}`);
    } else {
      operands.push(a);
    }
  }
  // `intervmfs typo` is commander's to report (unknown command).
  if (operands.length !== 2 && options.length === 0) return undefined;
  if (operands.length !== 2) throw new UserError(`expected SOURCE and MOUNTPOINT, got ${operands.length} operand(s); ${USAGE}`);
  const [source, mountpoint] = operands;

  const given = new Map<string, string>();
  for (const option of options) {
    if (option === '') continue;
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    if (key in MOUNT_OPTIONS) {
      if (value === undefined || value === '') throw new UserError(`mount option ${key} needs a value (${key}=...); ${USAGE}`);
      given.set(key, value);
    } else if (value === undefined && IGNORED_MOUNT_OPTIONS.has(key)) {
      continue;
    } else if (key.startsWith('x-') || key === 'comment') {
      continue;
    } else if (key === 'ro') {
      throw new UserError('mount option ro: a channel set cannot be mounted read-only (channels are written by both sides)');
    } else {
      throw new UserError(
        `unknown mount option '${option}': intervmfs takes side=a|b or area=ID,peer=NAME (area-size=, pair-size=, pair-channels=), notify=futex|poll|doorbell, spin-us=N, log=FILE and port=LINK, ` +
          `and ignores generic ones (${[...IGNORED_MOUNT_OPTIONS].slice(0, 12).join(', ')}, ..., x-*)`,
      );
    }
  }

  const side = given.get('side');
  if (side === undefined && !given.has('area')) throw new UserError(`mount option side=a or side=b is required (area=ID,peer=NAME in an area region); ${USAGE}`);
  if (side !== undefined && side !== 'a' && side !== 'b') throw new UserError(`mount option side=${side}: a side is a or b`);
  const notify = given.get('notify');
  if (notify !== undefined && !NOTIFY_MODES.includes(notify as NotifyMode)) {
    throw new UserError(`mount option notify=${notify}: a notifier is one of ${NOTIFY_MODES.join(', ')}`);
  }

  const out = ['mount', mountpoint, '--memsections', source];
  for (const [key, flag] of Object.entries(MOUNT_OPTIONS)) {
    const value = given.get(key);
    if (value !== undefined) out.push(flag, value);
  }
  return out;
}
