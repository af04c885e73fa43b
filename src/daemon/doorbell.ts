// On an ivshmem device: open its doorbell, to sleep on interrupts (notify
// doorbell) or only to ring a peer that does. A classic mount opens it in
// its one set; an area mount in a hub its sets share (native/doorbell_hub.h).
// A doorbell that does not ring us back when we ring ourselves would leave
// every wait to the engine's tick, so that mount is refused.
import path from 'path';
import { NotifyMode } from '../native';
import { asUserError, UserError } from '../errors';
import { Logger } from '../log';
import { MemsectionSpec, pciDevice } from '../memsections/locate';
import { doorbellRegisters, doorbellVfioGroup } from '../memsections/doorbell-device';

import { DOORBELL_TEST_MS } from '../timing';

/** Where the doorbell is opened: (vfioGroup, bdf) to wait too, (bar0) to ring only; each returns our peer id. */
export interface DoorbellTarget {
  open(first: string, bdf?: string): number;
  test(timeoutMs: number): boolean;
}

/**
 * Opens the doorbell of the set's device, if it is one; returns our peer id
 * (undefined without a doorbell). `onRelease` receives what gives the device
 * back to its driver once everything using it is closed (at unmount, or
 * after a refused mount).
 */
export function openDeviceDoorbell(
  spec: MemsectionSpec,
  notify: NotifyMode,
  log: Logger,
  target: DoorbellTarget,
  onRelease: (release: () => void) => void,
): number | undefined {
  const device = pciDevice(spec);
  if (!device) return undefined;
  const wait = notify === 'doorbell';
  let id: number;
  try {
    if (wait) {
      const group = doorbellVfioGroup(device);
      try {
        id = target.open(group.file, path.basename(device));
      } catch (err) {
        group.release(); // nothing of VFIO stays open after a failed open
        throw err;
      }
      onRelease(group.release);
    } else {
      id = target.open(doorbellRegisters(device));
    }
  } catch (err) {
    if (wait) return asUserError(err);
    log.warn({ err: (err as Error).message }, 'cannot open the ivshmem doorbell; a peer that waits for doorbell interrupts will only see our rings on its tick');
    return undefined;
  }
  if (wait && !target.test(DOORBELL_TEST_MS)) {
    throw new UserError(
      `the ivshmem device ${path.basename(device)} did not interrupt us when we rang our own doorbell (peer id ${id}): ` +
        `it needs QEMU's -device ivshmem-doorbell,chardev=... connected to a running doorbell server (intervmfs doorbell-server); ` +
        `ivshmem-plain has no interrupts, use --notify poll there`,
    );
  }
  log.info({ doorbellId: id, wait }, 'ivshmem doorbell open');
  return id;
}
