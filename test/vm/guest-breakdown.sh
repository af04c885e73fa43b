#!/bin/bash
# The guest half of `npm run breakdown -- --vm`: runs inside each test guest
# (test/vm/run.sh with VM_SCRIPT=guest-breakdown.sh) and measures where the
# time of a 64-byte round trip and of a 2 MiB transfer goes between the two
# guests, one round per notifier in $3: each guest's mount traced
# (INTERVMFS_TRACE: the engine's requests, sleeps and copy time), the peer
# program's time inside write() and in all, and the doorbell interrupts this
# guest took. Guest a sends, guest b answers. One JSON line per guest,
# notifier and workload in <results>/breakdown.jsonl; src/trace/vm-breakdown.ts
# makes the layers of them.
. "$(dirname "$0")/guest-lib.sh"
OUT=$R/breakdown.jsonl
PINGS=2000
BULK=2097152
BULKS=10
TRACE=/run/trace
# See guest-bench.sh: the receiver waits for the sender's close before it exits.
export INTERVMFS_PEER_LINGER=1
# The daemon rewrites its trace file every second (src/timing.ts, TRACE_WRITE_MS).
settle() { sleep 1.3; }
snapshot() { tr -d '\n' < "$TRACE/trace-$SIDE.json" 2>/dev/null || echo '{}'; }

# measure WORKLOAD COMMAND...: runs the peer program, then records what it
# printed with this guest's trace and interrupts before and after.
measure() {
  local workload=$1 before after irq0 irq1 out
  shift
  before=$(snapshot) irq0=$(doorbell_irqs)
  out=$("$@") || { say "FAIL $workload: the peer program failed"; exit 1; }
  settle
  after=$(snapshot) irq1=$(doorbell_irqs)
  echo "{\"notify\":\"$N\",\"side\":\"$SIDE\",\"workload\":\"$workload\",\"peer\":$(tail -1 <<< "$out"),\"irqs\":$((irq1 - irq0)),\"before\":$before,\"after\":$after}" >> "$OUT"
}

for N in $NOTIFIERS; do
  rm -rf $TRACE
  INTERVMFS_TRACE=$TRACE mount_side "$N" || exit 1
  barrier "$N-mounted"
  if [ "$SIDE" = a ]; then for c in data ack; do [ -e "$MNT/$c" ] || mknod "$MNT/$c" p; done; fi
  barrier "$N-channels"
  settle
  say "progress $N: $PINGS round trips of 64 B"
  if [ "$SIDE" = a ]; then
    measure "ping-pong 64 B" $PEER ping "$MNT/data" "$MNT/ack" $PINGS 64
  else
    measure "ping-pong 64 B" $PEER pong "$MNT/data" "$MNT/ack" $PINGS 64
  fi
  barrier "$N-pinged"
  say "progress $N: $BULKS transfers of 2 MiB"
  # One peer per transfer, as the bench's one-shots; the trace spans all of them.
  bulks() {
    local i
    set -o pipefail
    for i in $(seq $BULKS); do
      barrier "$N-bulk-$i"
      if [ "$SIDE" = a ]; then $PEER send "$MNT/data" "$MNT/ack" $BULK 1048576; else $PEER recv "$MNT/data" "$MNT/ack" $BULK 1048576; fi
    done | awk -F'[:,}]' '{ for (i = 1; i < NF; i++) { gsub(/[{" ]/, "", $i); if ($i ~ /_?ns$/) t[$i] += $(i + 1) } } END { printf "{\"count\":%d", NR; for (k in t) printf ",\"%s\":%.0f", k, t[k]; print "}" }'
  }
  measure "one-shot 2 MiB" bulks
  barrier "$N-bulked"
  out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
  barrier "$N-unmounted"
done
say "done"
