#!/usr/bin/env bash
# Builds (or reuses) what a test guest boots: Debian's kernel, unpacked from
# the linux-image-amd64 package, and a small initramfs with busybox and the
# modules for virtio, 9p, FUSE, VFIO (the doorbell interrupt), virtio-net and
# virtio-serial (virtio_console: the port transport's round)
# (TCP between the guests, the bench's yardstick). Cached in ~/.cache/intervmfs/guest-<kernel>,
# keyed by the kernel version and this script's and guest-init.sh's contents.
# Prints the cache folder (kernel at vmlinuz, initramfs at initrd.img).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${INTERVMFS_CACHE:-$HOME/.cache/intervmfs}
export DEBIAN_FRONTEND=noninteractive
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# busybox-static: a static busybox with insmod (grep reads the whole list, so
# busybox never dies of SIGPIPE under pipefail).
{ [ -x /bin/busybox ] && /bin/busybox --list | grep -x insmod > /dev/null; } || need+=(busybox-static)
command -v depmod >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  echo "vm: installing Debian packages: ${need[*]}" >&2
  apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2
fi

mkdir -p "$CACHE/deb"
cd "$CACHE/deb"
image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$image" ] || { echo "vm: cannot tell which kernel linux-image-amd64 depends on" >&2; exit 1; }
version=${image#linux-image-}
deb=$(ls "$image"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  echo "vm: downloading $image" >&2
  apt-get download "$image" >&2
  deb=$(ls "$image"_*.deb | head -1)
fi
key=$(cat "$HERE/build-guest.sh" "$HERE/guest-init.sh" | sha256sum | cut -c1-12)
out="$CACHE/guest-$version-$key"
if [ -f "$out/initrd.img" ] && [ -f "$out/vmlinuz" ]; then echo "$out"; exit 0; fi

echo "vm: building the guest initramfs for $version" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/kernel"
depmod -b "$work/kernel" "$version"
root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,host,results,modules}
cp /bin/busybox "$root/bin/busybox"
# Modules in load order, with their dependencies.
: > "$root/modules/order"
for m in virtio_pci 9pnet_virtio 9p fuse vfio_iommu_type1 vfio_pci virtio_net virtio_console; do
  modprobe -d "$work/kernel" -S "$version" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r ko; do
    name=$(basename "$ko")
    grep -qx "$name" "$root/modules/order" && continue
    cp "$ko" "$root/modules/$name"
    echo "$name" >> "$root/modules/order"
  done
done
cp "$HERE/guest-init.sh" "$root/init"
chmod +x "$root/init"
mkdir -p "$out.tmp"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp/initrd.img"
cp "$work/kernel/boot/vmlinuz-$version" "$out.tmp/vmlinuz"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
