#!/usr/bin/env bash
# Compares two built checkouts of intervmfs on the two figures the full
# benchmark measures too noisily to tell small changes apart: the 64-byte
# round trip (no spin and --spin-us 20, next to a kernel FIFO) and the
# aggregate of 1, 4 and 16 channels at once (128 MiB each in 128 KiB writes),
# and the wake-ups of 16 idle readers while another channel streams (futex,
# or NOTIFY=poll). The checkouts alternate, ROUNDS times, so drift on
# a shared machine hits both alike.
#
#   [NOTIFY=poll] scripts/compare-checkouts.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS]
#
# Each checkout must be built (npm ci). Uses its own runtime folder, sets in
# /dev/shm and mounts under /tmp, all removed on exit.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_CHECKOUT NEW_CHECKOUT [ROUNDS]" >&2; exit 2; }
ROUNDS=${3:-3}
NOTIFY=${NOTIFY:-futex}
case $NOTIFY in futex | poll) ;; *) echo "NOTIFY must be futex or poll" >&2; exit 2 ;; esac
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
  for s in a b; do node "$d/bin/intervmfs.js" mount "$WORK/$name/$s" --memsections "$SETS/$name" --side $s --notify "$NOTIFY" "$@" >/dev/null; done
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

# idle_readers CHECKOUT: 16 readers wait on 16 idle channels of side b while
# 1 GiB streams to side b on another channel; how many sleeps ended on side b
# (the engine's count, INTERVMFS_TRACE) and the CPU its daemon used. Each
# sleep that ends is a thread woken: the streaming reader's are needed, an
# idle reader's are not.
idle_readers() {
  local d=$1 i pid ticks0 ticks1 sleeps streaming
  INTERVMFS_TRACE=$WORK/trace pair "$d" idle
  for i in $(seq 0 16); do mknod "$WORK/idle/a/c$i" p; done
  pid=$(node -p "require('$WORK/run/' + require('fs').readdirSync('$WORK/run').filter(f => f.endsWith('.json')).find(f => require('$WORK/run/' + f).mountpoint === '$WORK/idle/b')).pid")
  for i in $(seq 1 16); do cat "$WORK/idle/b/c$i" >/dev/null & done
  ticks0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  cat "$WORK/idle/b/c0" >/dev/null &
  streaming=$!
  dd if=/dev/zero of="$WORK/idle/a/c0" bs=128k count=8192 status=none
  wait $streaming
  ticks1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  for i in $(seq 1 16); do : > "$WORK/idle/a/c$i"; done  # a writer comes and goes: the idle readers end
  wait
  unpair "$d" idle
  sleeps=$(node -p "require('$WORK/trace/trace-b.json').engine.stats.waits")
  rm -rf "$WORK/trace"
  echo "16 idle readers while 1 GiB streams on a 17th channel: side b's sleeps ended $sleeps, its daemon's CPU $(( (ticks1 - ticks0) * 10 )) ms"
}

for r in $(seq "$ROUNDS"); do
  for d in "$1" "$2"; do
    label=$([ "$d" = "$1" ] && echo old || echo new)
    echo "round $r $label ($d), $NOTIFY: $(round_trip "$d")"
    echo "round $r $label ($d), $NOTIFY: $(channels_at_once "$d")"
    echo "round $r $label ($d), $NOTIFY: $(idle_readers "$d")"
  done
done
