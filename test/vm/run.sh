#!/usr/bin/env bash
# npm run test:vm: two QEMU guests share one ivshmem region; intervmfs is
# mounted in each (side a, side b) and the transfer tests run across them.
# Software emulation (TCG): a guest hangs under KVM on these machines.
# Prints each guest's results, the figures, and on failure the tail of both
# consoles; shuts everything down and removes the region in all outcomes.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IVFS="node $ROOT/bin/intervmfs.js"
TIMEOUT=${VM_TIMEOUT:-900}

GUEST=$(bash "$ROOT/test/vm/build-guest.sh") || { echo "vm: could not build the guest"; exit 1; }
[ -e "$ROOT/build/Release/intervmfs-peer" ] || { echo "vm: build/Release/intervmfs-peer missing; run npm ci"; exit 1; }

WORK=$(mktemp -d /var/tmp/intervmfs-vm.XXXXXX)
REGION=/dev/shm/intervmfs-vm-$$
R=$WORK/results
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -f "$REGION"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$R/payloads"
for s in 4k:4K 2m:2M 64m:64M; do
  head -c "${s#*:}" /dev/urandom > "$R/payloads/${s%%:*}"
  sha256sum < "$R/payloads/${s%%:*}" | cut -d' ' -f1 > "$R/payloads/${s%%:*}.sha256"
done
truncate -s 128M "$REGION"
$IVFS format --memsections "$REGION" --channels 16 > /dev/null || { echo "vm: format of $REGION failed"; exit 1; }

boot() {
  local side=$1
  qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -display none -monitor none -no-reboot \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" \
    -append "console=ttyS0 quiet panic=-1 ivfs.side=$side ivfs.script=$ROOT/test/vm/guest-test.sh ivfs.results=$R" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$R,mount_tag=results,security_model=none" \
    -object "memory-backend-file,id=shm,share=on,mem-path=$REGION,size=128M" \
    -device ivshmem-plain,memdev=shm \
    -serial "file:$WORK/$side.console" &
  PIDS+=($!)
}

echo "vm: booting two guests under TCG ($GUEST)"
t0=$(date +%s)
boot a
boot b
deadline=$((t0 + TIMEOUT))
while kill -0 "${PIDS[0]}" 2>/dev/null || kill -0 "${PIDS[1]}" 2>/dev/null; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "vm: guests still running after ${TIMEOUT}s; stopping them"; break; fi
  sleep 1
done
echo "vm: guests ended after $(( $(date +%s) - t0 )) s"

status=0
for side in a b; do
  echo "--- guest $side"
  grep '^VMTEST' "$WORK/$side.console" | sed 's/^VMTEST /  /' || true
  grep -q "^VMTEST $side done" "$WORK/$side.console" || { echo "  (guest $side did not finish)"; status=1; }
  grep -q "^VMTEST $side FAIL" "$WORK/$side.console" && status=1
done
if [ -f "$R/a.oneshot.json" ] && [ -f "$R/b.oneshot.json" ]; then
  sent=$(sed 's/.*"digest":"\([0-9a-f]*\)".*/\1/' "$R/a.oneshot.json")
  got=$(sed 's/.*"digest":"\([0-9a-f]*\)".*/\1/' "$R/b.oneshot.json")
  if [ "$sent" = "$got" ]; then echo "  ok 64 MiB timed transfer: same digest on both guests ($sent)"; else echo "  FAIL 64 MiB timed transfer digests differ"; status=1; fi
fi
if [ $status -ne 0 ]; then
  for side in a b; do
    echo "--- console of guest $side (last 40 lines)"; tail -n 40 "$WORK/$side.console"
    echo "--- daemon log of guest $side (last 15 lines)"; tail -n 15 "$R/$side.daemon.log" 2>/dev/null
  done
  echo "vm: FAILED"
else
  echo "vm: passed"
fi
exit $status
