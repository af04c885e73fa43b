// How `mount --notify doorbell` finds the VFIO group of the ivshmem device
// and binds it to vfio-pci, against a fake sysfs; what it says when the
// guest lacks an IOMMU or the driver, or another driver holds the device.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { UserError } from '../../src/errors';
import { thrown } from './helpers';
import { doorbellRegisters, doorbellVfioGroup, DoorbellRoots } from '../../src/memsections/doorbell-device';

interface FakeGuest {
  device: string;
  roots: DoorbellRoots;
}

const made: string[] = [];

function fakeGuest(opts: { group?: string; driver?: string; vfioLoaded?: boolean; groupFile?: boolean }): FakeGuest {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-sysfs-'));
  made.push(root);
  const bus = path.join(root, 'sys/bus/pci');
  const device = path.join(bus, 'devices/0000:00:04.0');
  fs.mkdirSync(device, { recursive: true });
  fs.writeFileSync(path.join(device, 'resource0'), '');
  fs.writeFileSync(path.join(device, 'driver_override'), '');
  fs.writeFileSync(path.join(bus, 'drivers_probe'), '');
  if (opts.group) {
    fs.mkdirSync(path.join(root, 'sys/kernel/iommu_groups', opts.group), { recursive: true });
    fs.symlinkSync(path.join(root, 'sys/kernel/iommu_groups', opts.group), path.join(device, 'iommu_group'));
  }
  if (opts.vfioLoaded) fs.mkdirSync(path.join(bus, 'drivers/vfio-pci'), { recursive: true });
  if (opts.driver) {
    fs.mkdirSync(path.join(bus, 'drivers', opts.driver), { recursive: true });
    fs.symlinkSync(path.join(bus, 'drivers', opts.driver), path.join(device, 'driver'));
  }
  const vfioRoot = path.join(root, 'dev/vfio');
  fs.mkdirSync(vfioRoot, { recursive: true });
  if (opts.groupFile && opts.group) fs.writeFileSync(path.join(vfioRoot, opts.group), '');
  return { device, roots: { busRoot: bus, vfioRoot, bindWaitMs: 100 } };
}

describe('doorbell device (VFIO group of an ivshmem device)', () => {
  after(() => made.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

  it('uses the group file of a device already bound to vfio-pci, without rebinding it', () => {
    const g = fakeGuest({ group: '7', driver: 'vfio-pci', vfioLoaded: true, groupFile: true });
    const group = doorbellVfioGroup(g.device, g.roots);
    expect(group.file).to.equal(path.join(g.roots.vfioRoot, '7'));
    expect(fs.readFileSync(path.join(g.device, 'driver_override'), 'utf8')).to.equal('');
    group.release();
    expect(fs.existsSync(path.join(g.roots.busRoot, 'drivers/vfio-pci/unbind')), 'a binding it did not make stays').to.equal(false);
  });

  it('gives back at release a device it bound, and leaves the override cleared', () => {
    const g = fakeGuest({ group: '5', vfioLoaded: true, groupFile: true });
    const group = doorbellVfioGroup(g.device, g.roots);
    expect(fs.readFileSync(path.join(g.device, 'driver_override'), 'utf8')).to.equal('vfio-pci');
    group.release();
    expect(fs.readFileSync(path.join(g.roots.busRoot, 'drivers/vfio-pci/unbind'), 'utf8')).to.equal('0000:00:04.0');
    expect(fs.readFileSync(path.join(g.device, 'driver_override'), 'utf8')).to.equal('\n');
  });

  it('binds an unbound device to vfio-pci by driver_override and drivers_probe, naming only this device', () => {
    const g = fakeGuest({ group: '3', vfioLoaded: true });
    const err = thrown(() => doorbellVfioGroup(g.device, g.roots));
    expect(fs.readFileSync(path.join(g.roots.busRoot, 'drivers_probe'), 'utf8')).to.equal('0000:00:04.0');
    // Nothing real answers in a fake sysfs, so the group file never appears,
    // and the binding is given back:
    expect(err.message).to.include(`${path.join(g.roots.vfioRoot, '3')} did not appear`);
    expect(fs.readFileSync(path.join(g.roots.busRoot, 'drivers/vfio-pci/unbind'), 'utf8')).to.equal('0000:00:04.0');
  });

  it('says to give the guest an IOMMU when the device is in no IOMMU group', () => {
    const g = fakeGuest({ vfioLoaded: true });
    const err = thrown(() => doorbellVfioGroup(g.device, g.roots));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.include('-machine q35 -device intel-iommu');
    expect(err.message).to.include('intel_iommu=on');
  });

  it('says which driver holds the device and how to unbind it', () => {
    const g = fakeGuest({ group: '3', vfioLoaded: true, driver: 'uio_pci_generic' });
    const err = thrown(() => doorbellVfioGroup(g.device, g.roots));
    expect(err.message).to.include('bound to the uio_pci_generic driver');
    expect(err.message).to.include('echo 0000:00:04.0 > /sys/bus/pci/drivers/uio_pci_generic/unbind');
  });

  it('finds the register BAR, and says when a device has none', () => {
    const g = fakeGuest({});
    expect(doorbellRegisters(g.device)).to.equal(path.join(g.device, 'resource0'));
    fs.rmSync(path.join(g.device, 'resource0'));
    expect(thrown(() => doorbellRegisters(g.device)).message).to.include('has no register BAR');
  });
});
