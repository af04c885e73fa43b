// `intervmfs unmount`: stop the daemon serving a mount point, refuse while
// descriptors are open (unless forced), and leave nothing mounted.
import { spawnSync } from 'child_process';
import path from 'path';
import { UserError } from '../errors';
import { sleep, UNMOUNT_KILL_WAIT_MS, UNMOUNT_WAIT_MS } from '../timing';
import { locateMemsections } from '../memsections/locate';
import { openMemsections } from '../memsections/open';
import { isAlive, isMounted, MountRecord, readRecord, removeRecord } from './registry';
import { Memsections } from '../native';
import { openPairSets, openRegistry } from '../areas/registry';


async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

function openDescriptors(record: MountRecord): string[] {
  if (record.area !== undefined && record.peer !== undefined) return openAreaDescriptors(record.memsections, record.area, record.peer);
  let ms;
  try {
    ms = openMemsections(locateMemsections(record.memsections));
  } catch {
    return []; // the set is gone or broken: nothing to protect
  }
  try {
    return describeOpen(ms, record.side === 'b' ? 1 : 0, '');
  } finally {
    ms.close();
  }
}

function describeOpen(ms: Memsections, side: number, folder: string): string[] {
  return ms
    .channels()
    .filter((c) => c.sideOpen[side] > 0)
    .map((c) => `${folder}${c.name} (${c.sideOpen[side]})`);
}

// An area mount's descriptors are in the sets of its pairs.
function openAreaDescriptors(memsections: string, id: number, peer: string): string[] {
  let spec, reg;
  try {
    spec = locateMemsections(memsections);
    reg = openRegistry(spec);
  } catch {
    return [];
  }
  try {
    const area = reg.areas().find((a) => a.id === id && !a.corrupt);
    if (!area) return [];
    return openPairSets(reg, area, peer).flatMap((p) => {
      if (!('ms' in p)) return [];
      try {
        return describeOpen(p.ms, p.sideIndex, `${p.names[1 - p.sideIndex]}/`);
      } finally {
        p.ms.close();
      }
    });
  } finally {
    reg.close();
  }
}

export async function unmount(mountpoint: string, force: boolean): Promise<string> {
  const mnt = path.resolve(mountpoint);
  const record = readRecord(mnt);
  const daemonAlive = record !== undefined && isAlive(record.pid);
  if (!daemonAlive && !isMounted(mnt)) {
    if (record) removeRecord(mnt, record.pid);
    throw new UserError(`${mountpoint} is not mounted`);
  }
  if (record && daemonAlive && !force) {
    const open = openDescriptors(record);
    if (open.length > 0) {
      throw new UserError(`channels are open on ${mountpoint}: ${open.join(', ')}; close them first or use --force`);
    }
  }
  if (record && daemonAlive) {
    process.kill(record.pid, 'SIGTERM');
    if (!(await waitForExit(record.pid, UNMOUNT_WAIT_MS))) {
      process.kill(record.pid, 'SIGKILL');
      await waitForExit(record.pid, UNMOUNT_KILL_WAIT_MS);
    }
    removeRecord(mnt, record.pid);
  }
  if (isMounted(mnt)) {
    // No daemon left (it was killed): detach the dead mount.
    const r = spawnSync('umount', ['-l', mnt], { encoding: 'utf8' });
    if (r.status !== 0) throw new UserError(`cannot unmount ${mountpoint}: ${(r.stderr || '').trim() || 'umount failed'}`);
  }
  return `unmounted ${mountpoint}`;
}
