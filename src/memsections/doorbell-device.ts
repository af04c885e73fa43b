// The files of an ivshmem-doorbell device inside a guest: BAR 0 (the
// registers, for ringing) and the VFIO group through which its MSI-X
// interrupt is waited for (native/doorbell.h says why VFIO). Binds the
// device to vfio-pci when no driver has it yet, so that
// `mount --notify doorbell` works in a guest that only has the modules.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';

export interface DoorbellRoots {
  /** /sys/bus/pci: drivers/ and drivers_probe. */
  busRoot: string;
  /** Where VFIO group files appear. */
  vfioRoot: string;
  /** How long a fresh binding may take to show its group file. */
  bindWaitMs: number;
}

const DEFAULT_ROOTS: DoorbellRoots = { busRoot: '/sys/bus/pci', vfioRoot: '/dev/vfio', bindWaitMs: 3000 };
const VFIO_DRIVER = 'vfio-pci';

function driverOf(device: string): string | undefined {
  try {
    return path.basename(fs.readlinkSync(path.join(device, 'driver')));
  } catch {
    return undefined;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** BAR 0 of the device, for ringing a peer. */
export function doorbellRegisters(device: string): string {
  const bar0 = path.join(device, 'resource0');
  if (!fs.existsSync(bar0)) throw new UserError(`ivshmem device ${path.basename(device)} has no register BAR (${bar0} is missing)`);
  return bar0;
}

// Binds by driver_override, which names exactly this device (new_id would
// take every ivshmem device of the guest). True when it bound the device
// (and so should give it back at unmount).
function bindVfio(device: string, roots: DoorbellRoots): boolean {
  const bdf = path.basename(device);
  const driverDir = path.join(roots.busRoot, 'drivers', VFIO_DRIVER);
  if (!fs.existsSync(driverDir)) spawnSync('modprobe', ['vfio-pci'], { stdio: 'ignore' });
  if (!fs.existsSync(driverDir)) {
    throw new UserError(
      `--notify doorbell waits for the ivshmem interrupt (MSI-X) through VFIO, and the ${VFIO_DRIVER} driver is not loaded in this guest: ` +
        `load it (modprobe vfio-pci; modprobe vfio_iommu_type1 allow_unsafe_interrupts=1) and mount again`,
    );
  }
  const current = driverOf(device);
  if (current === VFIO_DRIVER) return false;
  if (current) {
    throw new UserError(`ivshmem device ${bdf} is bound to the ${current} driver; unbind it (echo ${bdf} > /sys/bus/pci/drivers/${current}/unbind) so intervmfs can use ${VFIO_DRIVER}`);
  }
  try {
    fs.writeFileSync(path.join(device, 'driver_override'), VFIO_DRIVER);
    fs.writeFileSync(path.join(roots.busRoot, 'drivers_probe'), bdf);
  } catch (err) {
    throw new UserError(`cannot bind ivshmem device ${bdf} to ${VFIO_DRIVER} (${(err as Error).message}); run the mount as root, or bind it yourself`);
  }
  return true;
}

export interface VfioGroup {
  /** /dev/vfio/<group> of the device. */
  file: string;
  /**
   * Gives the device back as it was found: unbinds it from vfio-pci when
   * this mount bound it (a device bound by the user stays bound). Call after
   * the VFIO files are closed.
   */
  release(): void;
}

/**
 * The VFIO group file of the ivshmem device in sysfs folder `device`,
 * binding it to vfio-pci first when needed.
 */
export function doorbellVfioGroup(device: string, roots: DoorbellRoots = DEFAULT_ROOTS): VfioGroup {
  const bdf = path.basename(device);
  let group: string;
  try {
    group = path.basename(fs.readlinkSync(path.join(device, 'iommu_group')));
  } catch {
    throw new UserError(
      `ivshmem device ${bdf} is in no IOMMU group, and VFIO (which --notify doorbell waits through) needs one: ` +
        `give the guest an IOMMU (QEMU: -machine q35 -device intel-iommu; guest kernel: intel_iommu=on)`,
    );
  }
  const bound = bindVfio(device, roots);
  const release = () => {
    if (!bound) return;
    try {
      fs.writeFileSync(path.join(roots.busRoot, 'drivers', VFIO_DRIVER, 'unbind'), bdf);
      fs.writeFileSync(path.join(device, 'driver_override'), '\n'); // a newline clears the override
    } catch {
      /* best effort: a device left bound to vfio-pci still works for the next mount */
    }
  };
  const file = path.join(roots.vfioRoot, group);
  for (let waited = 0; !fs.existsSync(file) && waited < roots.bindWaitMs; waited += 50) sleepMs(50);
  if (!fs.existsSync(file)) {
    release();
    throw new UserError(`${VFIO_DRIVER} took ivshmem device ${bdf} but ${file} did not appear (see dmesg)`);
  }
  return { file, release };
}
