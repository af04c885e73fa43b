// Finding the ivshmem device inside a guest, and the notifier that can reach
// a peer through it, against a fake /sys/bus/pci/devices.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { UserError } from '../../src/errors';
import { thrown } from './helpers';
import { chooseNotifier, findIvshmemDevices, locateMemsections } from '../../src/memsections/locate';

function fakePci(devices: Record<string, [string, string]>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-pci-'));
  for (const [bdf, [vendor, device]] of Object.entries(devices)) {
    fs.mkdirSync(path.join(root, bdf));
    fs.writeFileSync(path.join(root, bdf, 'vendor'), `${vendor}\n`);
    fs.writeFileSync(path.join(root, bdf, 'device'), `${device}\n`);
    fs.writeFileSync(path.join(root, bdf, 'resource2'), '');
  }
  return root;
}

describe('ivshmem discovery', () => {
  const roots: string[] = [];
  const pci = (d: Record<string, [string, string]>) => {
    const r = fakePci(d);
    roots.push(r);
    return r;
  };
  after(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

  it('finds the one 1af4:1110 device among others and uses its BAR 2', () => {
    const root = pci({ '0000:00:01.0': ['0x8086', '0x7000'], '0000:00:04.0': ['0x1af4', '0x1110'], '0000:00:05.0': ['0x1af4', '0x1000'] });
    expect(findIvshmemDevices(root)).to.deep.equal(['0000:00:04.0']);
    const spec = locateMemsections('ivshmem', { pciRoot: root });
    expect(spec).to.deep.equal({
      given: 'ivshmem',
      kind: 'region',
      paths: [path.join(root, '0000:00:04.0', 'resource2')],
      device: path.join(root, '0000:00:04.0'),
    });
  });

  it('takes a device by address, with or without the PCI domain', () => {
    const root = pci({ '0000:00:04.0': ['0x1af4', '0x1110'], '0000:00:06.0': ['0x1af4', '0x1110'] });
    expect(locateMemsections('ivshmem:0000:00:06.0', { pciRoot: root }).paths[0]).to.equal(path.join(root, '0000:00:06.0', 'resource2'));
    expect(locateMemsections('ivshmem:00:06.0', { pciRoot: root }).paths[0]).to.equal(path.join(root, '0000:00:06.0', 'resource2'));
  });

  it('says what to do when there is no device, several, or not the one named', () => {
    const none = pci({ '0000:00:01.0': ['0x8086', '0x7000'] });
    expect(thrown(() => locateMemsections('ivshmem', { pciRoot: none })).message).to.include('no ivshmem PCI device (1af4:1110) found');
    const two = pci({ '0000:00:04.0': ['0x1af4', '0x1110'], '0000:00:06.0': ['0x1af4', '0x1110'] });
    expect(thrown(() => locateMemsections('ivshmem', { pciRoot: two })).message).to.include('several ivshmem devices found (0000:00:04.0, 0000:00:06.0)');
    expect(thrown(() => locateMemsections('ivshmem:00:09.0', { pciRoot: two })).message).to.include('ivshmem device 00:09.0 not found');
  });

  it('uses futex for files and poll for a PCI region by default, and refuses futex on a PCI region', () => {
    const file = { given: 'f', kind: 'region' as const, paths: ['/dev/shm/whatever'] };
    const bar = { given: 'ivshmem', kind: 'region' as const, paths: ['/sys/bus/pci/devices/0000:00:04.0/resource2'] };
    expect(chooseNotifier(file, undefined)).to.equal('futex');
    expect(chooseNotifier(bar, undefined)).to.equal('poll');
    expect(chooseNotifier(bar, 'poll')).to.equal('poll');
    const err = thrown(() => chooseNotifier(bar, 'futex'));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.include('cannot wake a peer in another guest');
  });

  it('takes doorbell only on a PCI region, where it is never the default', () => {
    const file = { given: '/dev/shm/set', kind: 'region' as const, paths: ['/dev/shm/set'] };
    const bar = { given: 'ivshmem', kind: 'region' as const, paths: ['/sys/bus/pci/devices/0000:00:04.0/resource2'] };
    expect(chooseNotifier(bar, 'doorbell')).to.equal('doorbell');
    const err = thrown(() => chooseNotifier(file, 'doorbell'));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.include('--notify doorbell needs an ivshmem-doorbell PCI device');
    expect(err.message).to.include('use --notify futex');
  });
});
