#!/bin/bash
# Runs inside each of three test guests (vm1, vm2, vm3) that share one
# ivshmem-doorbell region formatted as an area region (test/vm/run.sh with
# VM_SCRIPT=guest-areas.sh), once per notifier in $3: the arrangement of Xen's static shared memory
# example, vm1-vm2 on area 1 and vm1-vm3 on area 2, plus area 3 shared by all
# three. Each guest mounts its areas (every one gives the same --area-size:
# whoever comes first creates the area), makes a channel for each peer it
# shares an area with, sends it 2 MiB while it reads its peers' 2 MiB, and
# checks what it may see. Outcomes are "VMTEST <peer> ok|FAIL ..." lines.
. "$(dirname "$0")/guest-lib.sh"
PEERS="vm1 vm2 vm3"
case $SIDE in vm1) AREAS="1 2 3" ;; vm2) AREAS="1 3" ;; vm3) AREAS="2 3" ;; *) say "FAIL unknown peer $SIDE"; exit 1 ;; esac
# The daemons' logs go to the results folder, for run.sh to show on failure.
trap 'for n in $NOTIFIERS; do cat /run/ivfs-*-$n.log > "$R/$SIDE.$n.daemon.log" 2>/dev/null; done' EXIT
members() { case $1 in 1) echo vm1 vm2 ;; 2) echo vm1 vm3 ;; 3) echo vm1 vm2 vm3 ;; esac; }
others() { members "$1" | tr ' ' '\n' | grep -vx "$SIDE" | sort | tr '\n' ' ' | sed 's/ $//'; }
# barrier3 NAME: all three guests reach NAME before any goes on.
barrier3() {
  touch "$R/$SIDE.at.$1"
  for _ in $(seq 1 3000); do
    local all=1
    for p in $PEERS; do [ -e "$R/$p.at.$1" ] || all=0; done
    [ $all = 1 ] && return 0
    sleep 0.1
  done
  say "FAIL the other guests did not all reach step $1 within 300 s"; exit 1
}

# One round per notifier ($N): every area mounted with it, channels named for
# the round so that rounds do not meet (the pairs and their channels outlive
# the mounts).
round() {
N=$1
for a in $AREAS; do
  mkdir -p "$MNT/$a"
  # VFIO gives a device to one process: in the doorbell round the shared
  # area 3 waits on interrupts, the guest's other areas poll (and still ring).
  notify=$N
  [ "$N" = doorbell ] && [ "$a" != 3 ] && notify=poll
  if ! $IVFS mount "$MNT/$a" --memsections ivshmem --area "$a" --peer "$SIDE" --area-size 8M --pair-size 1M --notify "$notify" --log "/run/ivfs-$a-$N.log" > /run/mount.out 2>&1; then
    say "FAIL [$N] mount of area $a as $SIDE: $(cat /run/mount.out)"; return 1
  fi
  say "ok [$N] mounted area $a as $SIDE ($(cat /run/mount.out))"
done
barrier3 "$N-mounted"
for a in $AREAS; do
  check "[$N] area $a lists its other peers ($(others "$a"))" [ "$(ls "$MNT/$a" | sort | tr '\n' ' ' | sed 's/ $//')" = "$(others "$a")" ]
  for o in $(others "$a"); do mknod "$MNT/$a/$o/$N-from-$SIDE" p; done
done
barrier3 "$N-channels"

# Every pair of every area, each way, all at once: 2 MiB by dd, read by sha256sum.
irqs0=$(doorbell_irqs)
for a in $AREAS; do
  for o in $(others "$a"); do
    (sha256sum < "$MNT/$a/$o/$N-from-$o" | cut -d' ' -f1 > "/run/got.$N.$a.$o") &
    dd if="$PAY/2m" of="$MNT/$a/$o/$N-from-$SIDE" bs=64K status=none &
  done
done
wait
for a in $AREAS; do
  for o in $(others "$a"); do
    check "[$N] area $a: the 2 MiB from $o arrived intact" [ "$(cat "/run/got.$N.$a.$o")" = "$(cat "$PAY/2m.sha256")" ]
  done
done
if [ "$N" = doorbell ]; then
  irqs=$(( $(doorbell_irqs) - irqs0 ))
  check "[$N] the transfers woke this guest by doorbell interrupts ($irqs)" [ "$irqs" -gt 0 ]
fi
# Visibility: a pair's folder holds the channels of that pair, no other.
for a in $AREAS; do
  for o in $(others "$a"); do
    want=$(printf '%s\n' "$N-from-$o" "$N-from-$SIDE" | sort | tr '\n' ' ')
    check "[$N] area $a: folder $o/ holds only the channels of $SIDE and $o" [ "$(ls "$MNT/$a/$o" | grep "^$N-" | sort | tr '\n' ' ')" = "$want" ]
  done
done
if [ "$SIDE" = vm1 ]; then
  $IVFS status --memsections ivshmem --json > "$R/areas-status.$N.json" 2> /run/status.err || say "FAIL [$N] status: $(cat /run/status.err)"
  check "[$N] status in a guest shows areas 1, 2 and 3 with their mappings" \
    node -e 'const r = require(process.argv[1]); const m = (id) => r.areas.find((a) => a.id === id).mappings.map((x) => x.name).sort().join(" ");
      process.exit(m(1) === "vm1 vm2" && m(2) === "vm1 vm3" && m(3) === "vm1 vm2 vm3" ? 0 : 1)' "$R/areas-status.$N.json"
fi
barrier3 "$N-checked"
for a in $AREAS; do
  out=$($IVFS unmount "$MNT/$a" 2>&1) || say "FAIL [$N] unmount of area $a: $out"
done
check "[$N] nothing of intervmfs is mounted any more" bash -c "! grep -q ' fuse.intervmfs ' /proc/mounts"
barrier3 "$N-unmounted"
}

for n in $NOTIFIERS; do round "$n" || break; done
say "done"
