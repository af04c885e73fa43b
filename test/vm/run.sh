#!/usr/bin/env bash
# npm run test:vm: two QEMU guests share one ivshmem-doorbell region served by
# `intervmfs doorbell-server`; intervmfs is mounted in each (side a, side b)
# and the transfer tests run across them, once with --notify poll and once
# with --notify doorbell (interrupts). KVM is used only when a probe boot
# shows that a guest comes up with it; otherwise software emulation (TCG).
# Prints each guest's results and the figures, and on failure the tail of
# both consoles and daemon logs; shuts everything down and removes the
# region in all outcomes.
# The guests (and the host's format and doorbell-server) run intervmfs as a
# user would have it: the checkout is packed once with npm pack, the tarball
# installed with npm install -g into a temporary prefix on the host (its npm
# dependencies come from the host's npm cache or registry; the guests have no
# network), and the guests see that prefix through the read-only 9p share of
# the host's root, with its bin/ first on PATH. Only the test scripts
# (test/vm/guest-*.sh) come from the checkout.
#   VM_NOTIFIERS=poll,doorbell,poll/doorbell  the rounds to run (comma-separated;
#                               A/B: guest a uses A, guest b uses B)
#   VM_SCRIPT=guest-test.sh     what the guests run (guest-bench.sh: bench --vm;
#                               guest-breakdown.sh: npm run breakdown -- --vm)
#   VM_FIGURES=DIR              where to copy the figures (JSON) at the end
#   VM_ACCEL=tcg|kvm            skip the probe
#   VM_TIMEOUT=900              seconds before the guests are stopped
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TIMEOUT=${VM_TIMEOUT:-900}
NOTIFIERS=${VM_NOTIFIERS:-poll,doorbell,poll/doorbell,port}
SCRIPT=$ROOT/test/vm/${VM_SCRIPT:-guest-test.sh}
[ -f "$SCRIPT" ] || { echo "vm: no guest script $SCRIPT"; exit 1; }
# guest-areas.sh: three guests (vm1, vm2, vm3) on one ivshmem-doorbell
# region formatted as an area region, a round with poll and one with doorbell.
if [ "$(basename "$SCRIPT")" = guest-areas.sh ]; then AREAS=1 GUESTS="vm1 vm2 vm3" NOTIFIERS=${VM_NOTIFIERS:-poll,doorbell}; else AREAS=0 GUESTS="a b"; fi

GUEST=$(bash "$ROOT/test/vm/build-guest.sh") || { echo "vm: could not build the guest"; exit 1; }
[ -e "$ROOT/build/Release/intervmfs-peer" ] || { echo "vm: build/Release/intervmfs-peer missing; run npm ci"; exit 1; }

WORK=$(readlink -f "$(mktemp -d /var/tmp/intervmfs-vm.XXXXXX)")
REGION=/dev/shm/intervmfs-vm-$$
PLAIN=/dev/shm/intervmfs-vm-plain-$$  # a second, interrupt-less device in guest a
SOCK=$WORK/doorbell.sock
R=$WORK/results
PKG=$WORK/pkg          # the tarball and the logs of npm pack and npm install
PREFIX=$WORK/prefix    # the install: bin/intervmfs, lib/node_modules/intervmfs
IVFS=$PREFIX/bin/intervmfs
PIDS=()
# npm pack leaves prebuilds/ in the checkout when it is stopped before its postpack.
had_prebuilds=$([ -e "$ROOT/prebuilds" ] && echo 1 || echo 0)
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${SERVER:-}" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -f "$REGION" "$PLAIN"
  [ "$had_prebuilds" = 0 ] && rm -rf "$ROOT/prebuilds"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pack the checkout and install the tarball into $PREFIX.
t_pkg=$(date +%s)
mkdir -p "$PKG"
if ! (cd "$ROOT" && npm pack --pack-destination "$PKG" > "$PKG/pack.log" 2>&1); then
  tail -n 30 "$PKG/pack.log"; echo "vm: npm pack failed"; exit 1
fi
TARBALL=$(ls "$PKG"/intervmfs-*.tgz 2>/dev/null | head -1)
[ -n "$TARBALL" ] || { tail -n 30 "$PKG/pack.log"; echo "vm: npm pack made no tarball"; exit 1; }
if ! npm install -g --prefix "$PREFIX" --prefer-offline --no-audit --no-fund --foreground-scripts "$TARBALL" > "$PKG/install.log" 2>&1; then
  tail -n 30 "$PKG/install.log"; echo "vm: npm install -g of $(basename "$TARBALL") failed"; exit 1
fi
[ -x "$IVFS" ] && [ -x "$PREFIX/lib/node_modules/intervmfs/build/Release/intervmfs-peer" ] ||
  { tail -n 30 "$PKG/install.log"; echo "vm: the install in $PREFIX has no bin/intervmfs or intervmfs-peer"; exit 1; }
echo "vm: packed $(basename "$TARBALL") and installed it into $PREFIX ($(grep -q 'use the prebuilt binaries' "$PKG/install.log" && echo 'prebuilt binaries' || echo 'built from source'), $(( $(date +%s) - t_pkg )) s); the guests run $IVFS"

# Is KVM usable? A guest that hangs under KVM (as on the machines this was
# written on) does not reach its init within the probe's time.
accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
  accel=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    timeout 25 qemu-system-x86_64 -accel kvm -m 256 -smp 1 -display none -monitor none -no-reboot \
      -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" -append "console=ttyS0 quiet panic=-1 ivfs.side=probe" \
      -serial "file:$WORK/probe.console" > /dev/null 2>&1
    if grep -q 'VMTEST init: probe up' "$WORK/probe.console" 2>/dev/null; then accel=kvm; fi
    echo "vm: KVM probe: $(grep -o 'probe up after .*' "$WORK/probe.console" 2>/dev/null || echo 'the guest did not reach init within 25 s')"
  else
    echo "vm: /dev/kvm is not usable here"
  fi
fi
# Transfers sized for the accelerator: emulation copies at about 100 MB/s.
BIG=$([ "$accel" = kvm ] && echo 1g || echo 64m)
echo "vm: accelerator $accel, largest transfer $BIG, notifiers $NOTIFIERS"

mkdir -p "$R/payloads"
for s in 4k:4K 2m:2M "$BIG:${BIG^^}"; do
  head -c "${s#*:}" /dev/urandom > "$R/payloads/${s%%:*}"
  sha256sum < "$R/payloads/${s%%:*}" | cut -d' ' -f1 > "$R/payloads/${s%%:*}.sha256"
done
if [ $AREAS = 1 ]; then
  $IVFS format --areas --memsections "$REGION" --size 64M > /dev/null || { echo "vm: format --areas of $REGION failed"; exit 1; }
else
  truncate -s 128M "$REGION"
  $IVFS format --memsections "$REGION" --channels 64 > /dev/null || { echo "vm: format of $REGION failed"; exit 1; }
fi
truncate -s 1M "$PLAIN"
$IVFS format --memsections "$PLAIN" --channels 4 > /dev/null || { echo "vm: format of $PLAIN failed"; exit 1; }
$IVFS doorbell-server --socket "$SOCK" --memsections "$REGION" --vectors 1 2> "$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "vm: the doorbell server did not start:"; cat "$WORK/server.log"; exit 1; }

# The doorbell device sits at slot 0x10 in both guests; guest a also gets an
# ivshmem-plain device at 0x11, to check what intervmfs says about it. The
# two guests of the transfer tests also get a virtio-net NIC at 0x12, joined
# to each other by QEMU over UDP on the host's loopback (no host network,
# no order of start): 192.168.77.1 (a) and .2 (b), the bench's TCP column.
NET_PORT=$((20000 + $$ % 20000))
boot() {
  local side=$1 extra=() net=() kargs= shm=(-chardev "socket,path=$SOCK,id=ivshmem" -device ivshmem-doorbell,chardev=ivshmem,vectors=1,addr=0x10)
  [ "$side" = a ] && extra=(-object "memory-backend-file,id=plain,share=on,mem-path=$PLAIN,size=1M" -device ivshmem-plain,memdev=plain,addr=0x11)
  if [ $AREAS = 0 ]; then
    local mine=$NET_PORT theirs=$((NET_PORT + 1)) ip=192.168.77.1
    [ "$side" = b ] && mine=$((NET_PORT + 1)) theirs=$NET_PORT ip=192.168.77.2
    net=(-netdev "socket,id=net0,udp=127.0.0.1:$theirs,localaddr=127.0.0.1:$mine" -device virtio-net-pci,netdev=net0,addr=0x12)
    # A virtio-serial port each, joined by QEMU over a Unix socket (guest
    # a's QEMU listens, guest b's connects and retries every second): the
    # port transport's round (--port).
    local chardev="socket,id=port0,path=$WORK/port.sock,server=on,wait=off"
    [ "$side" = b ] && chardev="socket,id=port0,path=$WORK/port.sock,reconnect=1"
    net+=(-device virtio-serial-pci,addr=0x13 -chardev "$chardev" -device virtserialport,chardev=port0,name=org.intervmfs.port0)
    kargs=" ivfs.ip=$ip ivfs.tcp=192.168.77.2"
  fi
  # q35 with intel-iommu: VFIO, through which the guest waits for the
  # doorbell's MSI-X interrupt, needs an IOMMU group.
  qemu-system-x86_64 -accel "$accel" -machine q35 -device intel-iommu -m 1024 -smp 1 -display none -monitor none -no-reboot \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" \
    -append "console=ttyS0 quiet panic=-1 intel_iommu=on ivfs.side=$side ivfs.script=$SCRIPT ivfs.results=$R ivfs.notifiers=$NOTIFIERS ivfs.big=$BIG ivfs.prefix=$PREFIX$kargs" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$R,mount_tag=results,security_model=none" \
    "${shm[@]}" "${extra[@]}" "${net[@]}" \
    -serial "file:$WORK/$side.console" 2> "$WORK/$side.qemu.log" &
  PIDS+=($!)
  QEMU_OF[$side]=$!
}
declare -A QEMU_OF

echo "vm: booting guests $GUESTS ($GUEST)"
t0=$(date +%s)
for g in $GUESTS; do boot "$g"; done
deadline=$((t0 + TIMEOUT))
# Each guest's outcome lines as they come, so a long run shows its progress.
for g in $GUESTS; do printf -v "shown_$g" 0; done
show_new() {
  for side in $GUESTS; do
    local var=shown_$side lines
    lines=$(grep -a '^VMTEST' "$WORK/$side.console" 2>/dev/null | tr -d '\r')
    [ -z "$lines" ] && continue
    local n; n=$(wc -l <<< "$lines")
    [ "$n" -gt "${!var}" ] && tail -n +$(( ${!var} + 1 )) <<< "$lines" | sed "s/^VMTEST /  [$(( $(date +%s) - t0 ))s] /"
    printf -v "$var" %s "$n"
  done
}
any_running() { for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
# A guest that never reaches its init (its QEMU failed, or its kernel hung
# or panicked) would leave the others waiting at a barrier for minutes: the
# run stops as soon as that is known, and says which guest and why.
BOOT_LIMIT=${VM_BOOT_LIMIT:-180}
never_up() {
  for side in $GUESTS; do
    grep -aq "^VMTEST init: side $side up" "$WORK/$side.console" 2>/dev/null && continue
    if ! kill -0 "${QEMU_OF[$side]}" 2>/dev/null; then echo "$side (its QEMU exited)"; return 0; fi
    [ $(( $(date +%s) - t0 )) -gt "$BOOT_LIMIT" ] && { echo "$side (not up within ${BOOT_LIMIT} s)"; return 0; }
  done
  return 1
}
while any_running; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "vm: guests still running after ${TIMEOUT}s; stopping them"; break; fi
  show_new
  if down=$(never_up); then echo "vm: guest $down never reached its init; stopping the guests"; break; fi
  sleep 1
done
show_new
echo "vm: guests ended after $(( $(date +%s) - t0 )) s"

status=0
for side in $GUESTS; do
  grep -q "^VMTEST $side done" "$WORK/$side.console" || { echo "  (guest $side did not finish)"; status=1; }
  grep -q "^VMTEST $side FAIL" "$WORK/$side.console" && status=1
done
for n in ${NOTIFIERS//,/ }; do
  t=${n//\//-}
  if [ -f "$R/a.$t.oneshot.json" ] && [ -f "$R/b.$t.oneshot.json" ]; then
    sent=$(sed 's/.*"digest":"\([0-9a-f]*\)".*/\1/' "$R/a.$t.oneshot.json")
    got=$(sed 's/.*"digest":"\([0-9a-f]*\)".*/\1/' "$R/b.$t.oneshot.json")
    if [ "$sent" = "$got" ]; then echo "  ok [$n] $BIG timed transfer: same digest on both guests ($sent)"; else echo "  FAIL [$n] $BIG timed transfer digests differ"; status=1; fi
  fi
done
if [ $AREAS = 1 ]; then
  # Every mount ended: the registry keeps the areas and their pairs, no mapping.
  $IVFS status --memsections "$REGION" --json > "$WORK/areas-after.json" 2>&1
  if node -e 'const r = require(process.argv[1]); process.exit(r.areas.length === 3 && r.areas.every((a) => a.mappings.length === 0) && r.areas.find((a) => a.id === 3).pairs.length === 3 ? 0 : 1)' "$WORK/areas-after.json"; then
    echo "  ok the host's status shows areas 1, 2, 3 with no mapping left and area 3's three pairs"
  else
    echo "  FAIL the host's status after the guests: $(head -c 400 "$WORK/areas-after.json")"; status=1
  fi
fi
[ -n "${SERVER:-}" ] && echo "--- doorbell server" && sed 's/^/  /' "$WORK/server.log" | grep -o '"msg":"[^"]*"\|^  intervmfs.*' || true
if [ -n "${VM_FIGURES:-}" ]; then mkdir -p "$VM_FIGURES" && cp "$R"/*.json "$R"/*.jsonl "$VM_FIGURES"/ 2>/dev/null; fi
if [ $status -ne 0 ]; then
  # The guests that did not finish last, nearest the verdict.
  finished=() unfinished=()
  for side in $GUESTS; do
    if grep -q "^VMTEST $side done" "$WORK/$side.console"; then finished+=("$side"); else unfinished+=("$side"); fi
  done
  for side in "${finished[@]}" "${unfinished[@]}"; do
    if [ -s "$WORK/$side.qemu.log" ]; then echo "--- QEMU of guest $side said"; tail -n 15 "$WORK/$side.qemu.log"; fi
    echo "--- console of guest $side (last 40 lines)"; tail -n 40 "$WORK/$side.console"
    for n in ${NOTIFIERS//,/ }; do
      echo "--- daemon log of guest $side, $n (last 15 lines)"; tail -n 15 "$R/$side.${n//\//-}.daemon.log" 2>/dev/null
    done
  done
  echo "vm: FAILED"
else
  echo "vm: passed"
fi
exit $status
