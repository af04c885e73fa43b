#!/bin/busybox sh
# PID 1 of a test guest: load the modules, mount the host's root read-only
# over 9p (so the guest runs the host's Node.js, and intervmfs as installed
# into the prefix ivfs.prefix names, at the same paths), give it writable
# tmpfs places, and run the test script the kernel command line names, as
# side ivfs.side, with the prefix's bin/ first on PATH. Powers off when it ends.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The guest IOMMU (QEMU's intel-iommu) remaps no interrupts, so VFIO is told
# to route MSI-X without it; acceptable in a test guest.
for m in $(cat /modules/order); do
  args=; [ "$m" = vfio_iommu_type1.ko ] && args=allow_unsafe_interrupts=1
  insmod "/modules/$m" $args || echo "VMTEST init: insmod $m failed"
done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^ivfs\.$1=//p"; }
SIDE=$(arg side) SCRIPT=$(arg script) RESULTS=$(arg results) PREFIX=$(arg prefix)
# A boot probe (is KVM usable?) only needs to get this far.
if [ "$SIDE" = probe ]; then echo "VMTEST init: probe up after $(cut -d' ' -f1 /proc/uptime) s"; poweroff -f; fi
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || echo "VMTEST init: cannot mount the host root"
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none results "/host$RESULTS" || echo "VMTEST init: cannot mount the results folder"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/shm 2>/dev/null
# Writable places. Not /tmp: the checkout or the results may live there.
for d in /run /dev/shm /root; do mount -t tmpfs tmpfs "/host$d"; done
mkdir -p /host/run/tmp
# ivfs.ip=ADDR: the guest's address on the virtio-net link between the
# guests (run.sh joins their NICs), for the bench's TCP column; ivfs.tcp
# (IVFS_TCP in the script's environment) is the listening guest's address.
IP=$(arg ip)
if [ -n "$IP" ]; then
  ip link set lo up
  { ip link set eth0 up && ip addr add "$IP/24" dev eth0; } || echo "VMTEST init: cannot configure eth0 as $IP"
fi
echo "VMTEST init: side $SIDE up after $(cut -d' ' -f1 /proc/uptime) s"
chroot /host /usr/bin/env -i PATH=${PREFIX:+$PREFIX/bin:}/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TMPDIR=/run/tmp IVFS_PREFIX="$PREFIX" IVFS_TCP="$(arg tcp)" \
  /bin/bash "$SCRIPT" "$SIDE" "$RESULTS" "$(arg notifiers)" "$(arg big)" 2>&1
echo "VMTEST init: done"
sync
poweroff -f
