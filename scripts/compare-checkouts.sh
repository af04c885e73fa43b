#!/usr/bin/env bash
# Compares two built checkouts of intervmfs on the two figures the full
# benchmark measures too noisily to tell small changes apart: the 64-byte
# round trip (no spin and --spin-us 20, next to a kernel FIFO) and the
# aggregate of 1, 4 and 16 channels at once (128 MiB each in 128 KiB writes,
# futex). The checkouts alternate, ROUNDS times, so drift on a shared machine
# hits both alike.
#
#   scripts/compare-checkouts.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS]
#
# Each checkout must be built (npm ci). Uses its own runtime folder, sets in
# /dev/shm and mounts under /tmp, all removed on exit.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_CHECKOUT NEW_CHECKOUT [ROUNDS]" >&2; exit 2; }
ROUNDS=${3:-3}
WORK=$(mktemp -d /tmp/intervmfs-compare.XXXXXX)
SETS=$(mktemp -d /dev/shm/intervmfs-compare.XXXXXX)
export INTERVMFS_RUNTIME_DIR=$WORK/run
cleanup() {
  for m in "$WORK"/*/a "$WORK"/*/b; do
    if grep -qs " $m " /proc/mounts; then umount -l "$m" 2>/dev/null || true; fi
  done
  rm -rf "$WORK" "$SETS"
}
trap cleanup EXIT

for d in "$1" "$2"; do
  [ -x "$d/build/Release/intervmfs-peer" ] || { echo "$d is not a built checkout (no build/Release/intervmfs-peer)" >&2; exit 2; }
done

# pair CHECKOUT NAME [mount flags...]: formats a set and mounts both sides in $WORK/NAME.
pair() {
  local d=$1 name=$2; shift 2
  mkdir -p "$WORK/$name/a" "$WORK/$name/b"
  node "$d/bin/intervmfs.js" format --memsections "$SETS/$name" --channels 32 --data-size 32M >/dev/null
  for s in a b; do node "$d/bin/intervmfs.js" mount "$WORK/$name/$s" --memsections "$SETS/$name" --side $s --notify futex "$@" >/dev/null; done
}
unpair() {
  for s in a b; do node "$1/bin/intervmfs.js" unmount "$WORK/$2/$s" >/dev/null; done
  rm -rf "$SETS/$2" "$WORK/$2"
}
p50_us() { sed -E 's/.*"p50":([0-9]+).*/\1/' | awk '{ printf "%.1f", $1 / 1000 }'; }

# ping CHECKOUT: p50 of 10000 64-byte round trips through DATA/ACK on a pair.
ping() {
  local d=$1 dir=$2 peer=$1/build/Release/intervmfs-peer
  "$peer" pong "$dir/b/data" "$dir/b/ack" 10000 64 >/dev/null &
  "$peer" ping "$dir/a/data" "$dir/a/ack" 10000 64 | p50_us
  wait
}

round_trip() {
  local d=$1 out="" spin
  for spin in 0 20; do
    pair "$d" rt $([ $spin = 0 ] || echo --spin-us $spin)
    mknod "$WORK/rt/a/data" p && mknod "$WORK/rt/a/ack" p
    out="$out spin $spin: $(ping "$d" "$WORK/rt") µs;"
    unpair "$d" rt
  done
  mkfifo "$WORK/fifo-data" "$WORK/fifo-ack"
  "$d/build/Release/intervmfs-peer" pong "$WORK/fifo-data" "$WORK/fifo-ack" 10000 64 >/dev/null &
  out="$out kernel FIFO: $("$d/build/Release/intervmfs-peer" ping "$WORK/fifo-data" "$WORK/fifo-ack" 10000 64 | p50_us) µs"
  wait
  rm -f "$WORK/fifo-data" "$WORK/fifo-ack"
  echo "64 B round trip p50,$out"
}

channels_at_once() {
  local d=$1 peer=$1/build/Release/intervmfs-peer out="" k i t0 t1
  pair "$d" sc
  for i in $(seq 16); do mknod "$WORK/sc/a/d$i" p; mknod "$WORK/sc/b/k$i" p; done
  for k in 1 4 16; do
    t0=$(date +%s%N)
    for i in $(seq $k); do "$peer" recv "$WORK/sc/b/d$i" "$WORK/sc/b/k$i" $((128 << 20)) 131072 >/dev/null & done
    for i in $(seq $k); do "$peer" send "$WORK/sc/a/d$i" "$WORK/sc/a/k$i" $((128 << 20)) 131072 >/dev/null & done
    wait
    t1=$(date +%s%N)
    out="$out $k: $((k * 128 * 1048576 * 1000 / (t1 - t0))) MB/s;"
  done
  unpair "$d" sc
  echo "channels at once (MB/s total),$out"
}

for r in $(seq "$ROUNDS"); do
  for d in "$1" "$2"; do
    label=$([ "$d" = "$1" ] && echo old || echo new)
    echo "round $r $label ($d): $(round_trip "$d")"
    echo "round $r $label ($d): $(channels_at_once "$d")"
  done
done
