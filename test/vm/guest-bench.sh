#!/bin/bash
# The guest half of `intervmfs bench --vm`: runs inside each test guest
# (started by test/vm/run.sh with VM_SCRIPT=guest-bench.sh) and measures
# intervmfs guest to guest with the benchmark's peer program, one round per
# notifier in $3 (rounds alternate, e.g. poll,doorbell,poll,doorbell, since
# the host is shared and noisy), and the same workloads through a kernel FIFO
# inside guest a in every round, as the baseline. Guest a sends, guest b
# receives. Every sample is a JSON line in <results>/vm-bench.jsonl.
. "$(dirname "$0")/guest-lib.sh"
OUT=$R/vm-bench.jsonl
ONESHOT="4096:10 2097152:5 $(bytes "$BIG"):2"
PINGS=1000
STREAM=$((32 * 1048576))
CLIB_SPIN_US=50  # the spin of the "spin" columns (mount --spin-us, ivfs_options.spin_us)

# Runs follow each other as soon as the receiving half is done: the peer's
# receiver waits for the sender's close, so that the next run's receiver
# cannot open the channel while this run's sender still holds it (and read
# that close as its own end of file).
export INTERVMFS_PEER_LINGER=1
# Runs in lockstep (the library columns) time the other guest's leaving the
# barrier too: look for it every 10 ms, not 100.
BARRIER_NAP=0.01
record() { echo "{\"round\":$ROUND,\"channel\":\"$1\",\"workload\":\"$2\",$3}" >> "$OUT"; }
# field NAME JSON: a number from the peer program's one-line JSON.
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<< "$2"; }

# workloads DATA ACK CHANNEL: every workload over one pair of paths; on
# side a the sending half (and the figures), on side b the receiving half.
# With LOCKSTEP set, both guests meet before each run: a library end is a
# process that holds its side, and the next run's receiver must not open
# the channel while the last run's sender still has it open.
workloads() {
  local d=$1 k=$2 name=$3 size runs step=0
  lockstep() { [ -z "${LOCKSTEP:-}" ] || barrier "$ROUND-$LOCKSTEP-$((step++))"; }
  for w in $ONESHOT; do
    size=${w%%:*} runs=${w#*:}
    for _ in $(seq "$runs"); do
      lockstep
      if [ "$SIDE" = a ]; then
        record "$name" "one-shot $size" "\"ns\":$(field ns "$($PEER send "$d" "$k" "$size" $((size < 1048576 ? size : 1048576)))")"
      else
        $PEER recv "$d" "$k" "$size" $((size < 1048576 ? size : 1048576)) > /dev/null
      fi
    done
  done
  lockstep
  if [ "$SIDE" = a ]; then
    out=$($PEER ping "$d" "$k" $PINGS 64)
    record "$name" "ping-pong 64 B" "\"p50\":$(field p50 "$out"),\"p99\":$(field p99 "$out")"
    lockstep
    record "$name" "stream 128 KiB writes" "\"ns\":$(field ns "$($PEER send "$d" "$k" $STREAM 131072)"),\"bytes\":$STREAM"
  else
    $PEER pong "$d" "$k" $PINGS 64 > /dev/null
    lockstep
    $PEER recv "$d" "$k" $STREAM 131072 > /dev/null
  fi
}

# What waiting costs: the receiving daemon's CPU while a reader sits on an
# empty channel of the mount for 3 s (side b).
idle_cost() {
  cat "$MNT/idle" > /dev/null &
  local reader=$! c0 c1
  sleep 1; c0=$(cpu_ticks "$DAEMON"); sleep 3; c1=$(cpu_ticks "$DAEMON")
  kill -TERM $reader 2>/dev/null; wait $reader 2>/dev/null
  echo "{\"round\":$ROUND,\"channel\":\"$1\",\"workload\":\"idle reader\",\"cpu_ms\":$(( (c1 - c0) * 10 )),\"seconds\":3}" >> "$OUT"
}

ROUND=0
for N in $NOTIFIERS; do
  ROUND=$((ROUND + 1))
  mount_side "$N" || exit 1
  barrier "$ROUND-mounted"
  if [ "$SIDE" = a ]; then for c in data ack idle; do [ -e "$MNT/$c" ] || mknod "$MNT/$c" p; done; fi
  barrier "$ROUND-channels"
  say "progress round $ROUND: intervmfs $N"
  workloads "$MNT/data" "$MNT/ack" "intervmfs $N"
  if [ "$SIDE" = b ]; then
    idle_cost "intervmfs $N"
  elif [ "$SIDE" = a ]; then
    say "progress round $ROUND: kernel FIFO inside guest a"
    rm -f /run/fd /run/fk && mkfifo /run/fd /run/fk
    SIDE=b workloads /run/fd /run/fk "kernel FIFO" > /dev/null &
    workloads /run/fd /run/fk "kernel FIFO"
    wait
  fi
  barrier "$ROUND-measured"
  out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
  barrier "$ROUND-unmounted"
  # The poll rounds go on between the guests with what needs their sides
  # free or mounted otherwise.
  if [ "$N" = poll ]; then
    # The mounts again, each request spinning on its ring before it sleeps
    # (mount --spin-us): no notifier hand-off for an answer within the spin.
    mount_side poll --spin-us "$CLIB_SPIN_US" || exit 1
    barrier "$ROUND-spin-mounted"
    say "progress round $ROUND: intervmfs poll spin $CLIB_SPIN_US µs"
    workloads "$MNT/data" "$MNT/ack" "intervmfs poll spin $CLIB_SPIN_US µs"
    barrier "$ROUND-spin-measured"
    out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
    barrier "$ROUND-spin-unmounted"
    # The library (src/lib) between the guests, in the poll rounds: both ends
    # Node programs (lib-peer.js, peer.c's modes on openChannel) on the sides
    # the mounts freed, no FUSE. Its own channels, made by whichever end comes first.
    say "progress round $ROUND: library"
    LOCKSTEP=lib PEER="node $PKGDIR/dist/src/bench/lib-peer.js" workloads "lib:$SIDE:$IVSHMEM:ldata" "lib:$SIDE:$IVSHMEM:lack" "library poll"
    barrier "$ROUND-library"
    # The C library (native/intervmfs.h) on the same sides: the C peer's
    # clib: ends, no FUSE and no Node; then with a blocked call spinning on
    # its ring for CLIB_SPIN_US before it sleeps.
    say "progress round $ROUND: C library"
    LOCKSTEP=clib workloads "clib:$SIDE:$IVSHMEM:cdata" "clib:$SIDE:$IVSHMEM:cack" "C library poll"
    barrier "$ROUND-clib"
    (export INTERVMFS_PEER_SPIN_US=$CLIB_SPIN_US; LOCKSTEP=clibspin workloads "clib:$SIDE:$IVSHMEM:sdata" "clib:$SIDE:$IVSHMEM:sack" "C library poll spin $CLIB_SPIN_US µs")
    barrier "$ROUND-clibspin"
    # What users pick instead between two VMs: TCP over virtio-net (QEMU
    # joins the guests' NICs, run.sh), with the same peer program; guest b
    # listens, guest a connects.
    if [ -n "${IVFS_TCP:-}" ]; then
      say "progress round $ROUND: TCP between the guests"
      LOCKSTEP=tcp workloads "tcp:$IVFS_TCP:5577" - "TCP between the guests"
      barrier "$ROUND-tcp"
    fi
    # The same channels without shared memory: private sets kept in step
    # over the virtio-serial port QEMU joined between the guests (--port).
    if [ -n "$(virtio_port)" ]; then
      if [ "$ROUND" = 1 ]; then
        # Once, before the port has carried anything: the port alone, a
        # Python program at each end (port-raw.py), the floor under the
        # transport's figures.
        say "progress round $ROUND: the virtio-serial port alone"
        raw="python3 $ROOT/test/vm/port-raw.py $(virtio_port)"
        big=$(bytes "$BIG")
        if [ "$SIDE" = a ]; then
          out=$($raw ping $PINGS 64)
          record "virtio-serial port alone" "ping-pong 64 B" "\"p50\":$(field p50 "$out"),\"p99\":$(field p99 "$out")"
          record "virtio-serial port alone" "one-shot $big" "\"ns\":$(field ns "$($raw send "$big")")"
          record "virtio-serial port alone" "stream 128 KiB writes" "\"ns\":$(field ns "$($raw send $STREAM)"),\"bytes\":$STREAM"
        else
          $raw pong $PINGS 64 && $raw sink "$big" && $raw sink $STREAM
        fi
        barrier "$ROUND-port-raw"
      fi
      mount_port || exit 1
      if [ "$SIDE" = a ]; then for c in data ack idle; do [ -e "$MNT/$c" ] || mknod "$MNT/$c" p; done; fi
      barrier "$ROUND-port-channels"
      say "progress round $ROUND: intervmfs over the port"
      workloads "$MNT/data" "$MNT/ack" "intervmfs port (virtio-serial)"
      if [ "$SIDE" = b ]; then idle_cost "intervmfs port (virtio-serial)"; fi
      barrier "$ROUND-port-measured"
      out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
      barrier "$ROUND-port-unmounted"
    fi
    # Library ↔ mount: guest a's end a program on the library (its side
    # freed), guest b's the C peer on a mount of side b; b makes the channels.
    if [ "$SIDE" = b ]; then
      mount_side poll || exit 1
      for c in mdata mack; do [ -e "$MNT/$c" ] || mknod "$MNT/$c" p; done
    fi
    barrier "$ROUND-libmount-mounted"
    say "progress round $ROUND: library ↔ mount"
    if [ "$SIDE" = a ]; then
      LOCKSTEP=libmount PEER="node $PKGDIR/dist/src/bench/lib-peer.js" workloads "lib:a:$IVSHMEM:mdata" "lib:a:$IVSHMEM:mack" "library ↔ mount poll"
    else
      LOCKSTEP=libmount workloads "$MNT/mdata" "$MNT/mack" "library ↔ mount poll"
      out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
    fi
    barrier "$ROUND-libmount"
  fi
done
say "done"
