// The form mount.fuse runs us in (`mount -t fuse.intervmfs`, fstab):
// `intervmfs SOURCE MOUNTPOINT -o OPTIONS` becomes `intervmfs mount ...`.
import { expect } from 'chai';
import { buildProgram, commandNames } from '../../src/cli/main';
import { fromMountHelper } from '../../src/cli/mount-helper';
import { UserError } from '../../src/errors';

const commands = commandNames(buildProgram());
const translate = (...args: string[]) => fromMountHelper(args, commands);

function refusal(args: string[]): string {
  try {
    fromMountHelper(args, commands);
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).exitCode).to.equal(2);
    return (err as Error).message;
  }
  throw new Error(`not refused: ${args.join(' ')}`);
}

describe('mount helper form', () => {
  it('turns SOURCE MOUNTPOINT -o side=a into the mount command', () => {
    expect(translate('/dev/shm/intervmfs', '/mnt/ch', '-o', 'side=a')).to.deep.equal(
      ['mount', '/mnt/ch', '--memsections', '/dev/shm/intervmfs', '--side', 'a'],
    );
  });

  it('turns -o area=ID,peer=NAME with the sizes of an area into the mount command, as an fstab line of each VM gives them', () => {
    expect(translate('ivshmem', '/mnt/a3', '-o', 'nofail,pair-size=1M,area-size=64M,peer=vm1,area=3,notify=doorbell')).to.deep.equal([
      'mount', '/mnt/a3', '--memsections', 'ivshmem',
      '--area', '3', '--peer', 'vm1', '--area-size', '64M', '--pair-size', '1M', '--notify', 'doorbell',
    ]);
    expect(translate('/dev/shm/areas', '/mnt/a1', '-o', 'area=1,peer=vm2')).to.deep.equal(['mount', '/mnt/a1', '--memsections', '/dev/shm/areas', '--area', '1', '--peer', 'vm2']);
  });

  it('passes notify, spin-us and log, in a fixed order, and an ivshmem source as it is', () => {
    expect(translate('ivshmem:0000:00:05.0', '/mnt/ch', '-o', 'log=/var/log/ivfs.log,spin-us=20,notify=poll,side=b')).to.deep.equal([
      'mount', '/mnt/ch', '--memsections', 'ivshmem:0000:00:05.0',
      '--side', 'b', '--notify', 'poll', '--spin-us', '20', '--log', '/var/log/ivfs.log',
    ]);
  });

  it('ignores generic mount options, as mount.fuse and fstab hand them over', () => {
    // What Debian's fuse3 mount.fuse passed for `-o rw,side=a,nofail,_netdev,noauto,notify=poll,x-systemd.automount`.
    expect(translate('/dev/shm/s', '/mnt/a', '-o', 'rw,side=a,notify=poll,x-systemd.automount,dev,suid')).to.deep.equal(
      ['mount', '/mnt/a', '--memsections', '/dev/shm/s', '--side', 'a', '--notify', 'poll'],
    );
    expect(translate('/dev/shm/s', '/mnt/a', '-o', 'defaults,side=b,nofail,_netdev,noauto,user,nodev,nosuid,noexec,exec,comment=x')).to.deep.equal(
      ['mount', '/mnt/a', '--memsections', '/dev/shm/s', '--side', 'b'],
    );
  });

  it('accepts -oOPTIONS and several -o, the last value of an option winning', () => {
    expect(translate('s', 'm', '-oside=a', '-o', 'notify=futex,side=b')).to.deep.equal(
      ['mount', 'm', '--memsections', 's', '--side', 'b', '--notify', 'futex'],
    );
  });

  it('leaves commands, flags and a lone unknown word to the ordinary parser', () => {
    expect(translate()).to.equal(undefined);
    expect(translate('--version')).to.equal(undefined);
    expect(translate('mount', 'mnt', '--side', 'a')).to.equal(undefined);
    expect(translate('status', '--memsections', 'x')).to.equal(undefined);
    expect(translate('umount', 'mnt')).to.equal(undefined);
    expect(translate('help', 'mount')).to.equal(undefined);
    expect(translate('formt')).to.equal(undefined);
  });

  it('refuses a missing or wrong side, an unknown option, ro, and a malformed form, saying what is expected', () => {
    expect(refusal(['s', 'm'])).to.match(/side=a or side=b is required/);
    expect(refusal(['s', 'm', '-o', 'rw'])).to.match(/side=a or side=b is required/);
    expect(refusal(['s', 'm', '-o', 'side=c'])).to.match(/side=c: a side is a or b/);
    expect(refusal(['s', 'm', '-o', 'side='])).to.match(/side needs a value/);
    expect(refusal(['s', 'm', '-o', 'side=a,notify=irq'])).to.match(/notify=irq: a notifier is one of futex, poll, doorbell/);
    expect(refusal(['s', 'm', '-o', 'side=a,allow_other'])).to.match(/unknown mount option 'allow_other': intervmfs takes side=a\|b/);
    expect(refusal(['s', 'm', '-o', 'side=a,sides=b'])).to.match(/unknown mount option 'sides=b'/);
    expect(refusal(['s', 'm', '-o', 'ro,side=a'])).to.match(/cannot be mounted read-only/);
    expect(refusal(['s', '-o', 'side=a'])).to.match(/expected SOURCE and MOUNTPOINT, got 1/);
    expect(refusal(['s', 'm', 'x', '-o', 'side=a'])).to.match(/got 3/);
    expect(refusal(['s', 'm', '-o'])).to.match(/-o needs a list of options/);
    expect(refusal(['s', 'm', '-n', '-o', 'side=a'])).to.match(/unexpected -n/);
  });
});
