// Where a memsection set lives: three files in a folder, one file or region
// carved into three, or an ivshmem PCI device found by itself.
import fs from 'fs';
import path from 'path';
import { packageRoot } from '../native';
import { UserError } from '../errors';
import type { NotifyMode } from '../native';

export const MEMSECTION_FILES = ['control', 'data0', 'data1'] as const;

/** The embedded default location: the project's own memsections/ folder. */
export const defaultMemsectionDir = path.join(packageRoot, 'memsections');

export interface MemsectionSpec {
  /** What the user named, for messages. */
  given: string;
  /** 'folder': three files; 'region': one file carved by the header. */
  kind: 'folder' | 'region';
  paths: string[];
  /** The sysfs folder of the PCI device, when the region is an ivshmem BAR. */
  device?: string;
}

const IVSHMEM_VENDOR = '0x1af4';
const IVSHMEM_DEVICE = '0x1110';
const PCI_DEVICES = '/sys/bus/pci/devices';

function readTrimmed(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** PCI addresses of the ivshmem devices of this machine (inside a guest). */
export function findIvshmemDevices(pciRoot = PCI_DEVICES): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(pciRoot);
  } catch {
    return [];
  }
  return entries
    .filter(
      (bdf) =>
        readTrimmed(path.join(pciRoot, bdf, 'vendor')) === IVSHMEM_VENDOR &&
        readTrimmed(path.join(pciRoot, bdf, 'device')) === IVSHMEM_DEVICE,
    )
    .sort();
}

function ivshmemSpec(given: string, pciRoot: string): MemsectionSpec {
  const wanted = given.slice('ivshmem'.length).replace(/^:/, '');
  const devices = findIvshmemDevices(pciRoot);
  let bdf = wanted;
  if (!bdf) {
    if (devices.length === 0) throw new UserError(`no ivshmem PCI device (1af4:1110) found under ${pciRoot}; give the QEMU guest -device ivshmem-plain or ivshmem-doorbell`);
    if (devices.length > 1) throw new UserError(`several ivshmem devices found (${devices.join(', ')}); choose one with --memsections ivshmem:<bdf>`);
    bdf = devices[0];
  } else if (!bdf.includes(':') || !devices.includes(bdf) && !devices.includes(`0000:${bdf}`)) {
    throw new UserError(`ivshmem device ${bdf} not found; devices present: ${devices.join(', ') || 'none'}`);
  }
  if (!devices.includes(bdf)) bdf = `0000:${bdf}`;
  return { given, kind: 'region', paths: [path.join(pciRoot, bdf, 'resource2')], device: path.join(pciRoot, bdf) };
}

/** The sysfs folder of the PCI device whose BAR the set is, if it is one. */
export function pciDevice(spec: MemsectionSpec): string | undefined {
  if (spec.kind !== 'region') return undefined;
  if (spec.device) return spec.device;
  let real = spec.paths[0];
  try {
    real = fs.realpathSync(real);
  } catch {
    /* judged by the name given */
  }
  return /^\/sys\/(bus\/pci\/devices|devices\/pci)\/.*\/resource2$/.test(real) ? path.dirname(real) : undefined;
}

/** Whether a set is a PCI BAR (an ivshmem device): its peer runs another kernel. */
export function isPciRegion(spec: MemsectionSpec): boolean {
  return pciDevice(spec) !== undefined;
}

/**
 * The notifier for a mount: futex unless the set is an ivshmem device, where
 * the peer is another guest that no futex wake-up can reach (asking for futex
 * there is refused), and poll is the default since only ivshmem-doorbell
 * devices can interrupt. doorbell needs such a device.
 */
export function chooseNotifier(spec: MemsectionSpec, asked: NotifyMode | undefined): NotifyMode {
  const pci = isPciRegion(spec);
  if (asked === 'futex' && pci) {
    throw new UserError(`--notify futex cannot wake a peer in another guest (${spec.given} is a PCI device); use --notify poll or --notify doorbell`);
  }
  if (asked === 'doorbell' && !pci) {
    throw new UserError(
      `--notify doorbell needs an ivshmem-doorbell PCI device inside a QEMU guest (--memsections ivshmem); ${spec.given} is not one: between processes on one machine use --notify futex`,
    );
  }
  return asked ?? (pci ? 'poll' : 'futex');
}

/** `ivshmem` or `ivshmem:<bdf>`: the guest's ivshmem device, not a path. */
export function isIvshmemName(name: string): boolean {
  return name === 'ivshmem' || name.startsWith('ivshmem:');
}

/**
 * Resolves --memsections: an existing folder (or one to be created by
 * format) holds three files; an existing file is one region; `ivshmem` or
 * `ivshmem:<bdf>` finds the guest's ivshmem BAR 2.
 */
export function locateMemsections(given: string | undefined, opts: { forFormat?: boolean; pciRoot?: string } = {}): MemsectionSpec {
  const name = given ?? defaultMemsectionDir;
  if (isIvshmemName(name)) return ivshmemSpec(name, opts.pciRoot ?? PCI_DEVICES);
  const resolved = path.resolve(name);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(resolved);
  } catch {
    stat = undefined;
  }
  if (stat && !stat.isDirectory()) return { given: name, kind: 'region', paths: [resolved] };
  if (!stat && !opts.forFormat) {
    throw new UserError(`memsection set ${name} does not exist; create it with \`intervmfs format --memsections ${name}\``);
  }
  return { given: name, kind: 'folder', paths: MEMSECTION_FILES.map((f) => path.join(resolved, f)) };
}
