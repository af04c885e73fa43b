#!/bin/bash
# Runs inside a test guest (as PID 1's child, chrooted into the host's root):
# mounts its side of the ivshmem region and does its half of each step, in
# step with the other guest through files in the shared results folder.
# Every outcome is a line "VMTEST <side> ok|FAIL|figure ..." on the console
# and in <results>/<side>.log.
set -u
SIDE=$1 R=$2
OTHER=$([ "$SIDE" = a ] && echo b || echo a)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IVFS="node $ROOT/bin/intervmfs.js"
PEER=$ROOT/build/Release/intervmfs-peer
PAY=$R/payloads
MNT=/run/mnt

say() { echo "VMTEST $SIDE $*"; echo "$*" >> "$R/$SIDE.log"; }
check() { local what=$1; shift; if "$@"; then say "ok $what"; else say "FAIL $what"; fi; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# barrier NAME: both guests reach NAME before either goes on.
barrier() {
  touch "$R/$SIDE.at.$1"
  for _ in $(seq 1 3000); do [ -e "$R/$OTHER.at.$1" ] && return 0; sleep 0.1; done
  say "FAIL the other guest did not reach step $1 within 300 s"; exit 1
}
digest() { sha256sum | cut -d' ' -f1; }

mkdir -p $MNT
if ! $IVFS mount $MNT --memsections ivshmem --side "$SIDE" --log /run/ivfs.log > /run/mount.out 2>&1; then
  say "FAIL mount: $(cat /run/mount.out)"; exit 1
fi
say "ok mounted side $SIDE over the ivshmem BAR ($(cat /run/mount.out))"
out=$($IVFS mount /run/other --memsections ivshmem --side "$SIDE" --notify futex 2>&1); rc=$?
check "--notify futex is refused between guests (exit $rc)" [ $rc -ne 0 -a -z "${out##*cannot wake a peer in another guest*}" ]
barrier mounted

if [ "$SIDE" = a ]; then
  for n in s4k_ab s4k_ba s2m_ab s2m_ba s64m_ab s64m_ba m1 m2 m3 m4 idle td tk pd pk chat; do mknod "$MNT/$n" p; done
fi
barrier channels
check "the channels made on side a are listed on side $SIDE" [ "$(ls $MNT | wc -l)" -eq 16 ]

# Each size each way, as a user would: dd in, sha256sum out.
for size in 4k 2m 64m; do
  for dir in ab ba; do
    ch=$MNT/s${size}_$dir
    writer=${dir:0:1}
    if [ "$SIDE" = "$writer" ]; then
      barrier "r-$size-$dir"
      dd if="$PAY/$size" of="$ch" bs=64K status=none
    else
      (t0=$(now_ms); got=$(digest < "$ch"); echo "$got $(( $(now_ms) - t0 ))" > /run/got) &
      reader=$!
      barrier "r-$size-$dir"
      wait $reader
      read -r got ms < /run/got
      check "$size ${dir:0:1}->${dir:1:1} arrives with the same sha256 (dd | sha256sum, ${ms} ms)" [ "$got" = "$(cat "$PAY/$size.sha256")" ]
    fi
    barrier "d-$size-$dir"
  done
done

# Timed with the benchmark's peer program: 64 MiB one-shot with an ack, and
# 2000 round trips of 64 bytes, a->b.
if [ "$SIDE" = b ]; then
  $PEER recv $MNT/td $MNT/tk 67108864 1048576 verify > "$R/b.oneshot.json" &
  p1=$!
  barrier timed
  wait $p1
  $PEER pong $MNT/pd $MNT/pk 2000 64 > /dev/null &
  p2=$!
  barrier ping
  wait $p2
else
  barrier timed
  $PEER send $MNT/td $MNT/tk 67108864 1048576 verify > "$R/a.oneshot.json"
  barrier ping
  $PEER ping $MNT/pd $MNT/pk 2000 64 > "$R/a.ping.json"
  say "figure intervmfs poll guest to guest: 64 MiB one-shot $(cat "$R/a.oneshot.json"), 64 B round trip $(cat "$R/a.ping.json")"
  # The same inside this one guest through a kernel FIFO, for comparison.
  mkfifo /run/fd /run/fk
  $PEER recv /run/fd /run/fk 67108864 1048576 > /dev/null &
  $PEER send /run/fd /run/fk 67108864 1048576 > /run/fifo.json; wait
  $PEER pong /run/fd /run/fk 2000 64 > /dev/null &
  $PEER ping /run/fd /run/fk 2000 64 > /run/fifo-ping.json; wait
  say "figure kernel FIFO inside guest a: 64 MiB one-shot $(cat /run/fifo.json), 64 B round trip $(cat /run/fifo-ping.json)"
fi
barrier timed-done

# Four channels at once, a->b.
if [ "$SIDE" = b ]; then
  for i in 1 2 3 4; do (digest < $MNT/m$i > /run/m$i.got) & done
  barrier many
  wait
  intact=0
  for i in 1 2 3 4; do [ "$(cat /run/m$i.got)" = "$(cat "$PAY/2m.sha256")" ] && intact=$((intact + 1)); done
  check "4 channels at once a->b, 2 MiB each: $intact of 4 intact" [ $intact -eq 4 ]
else
  barrier many
  for i in 1 2 3 4; do dd if="$PAY/2m" of=$MNT/m$i bs=64K status=none & done
  wait
fi
barrier many-done

# A reader blocked on an empty channel ends on Ctrl-C within a second.
# Job control on, as in an interactive shell: otherwise a background job
# ignores SIGINT.
if [ "$SIDE" = b ]; then
  set -m
  cat $MNT/idle > /dev/null &
  pid=$!
  set +m
  sleep 2
  state=$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)
  (sleep 10; kill -KILL $pid 2>/dev/null) &
  guard=$!
  t0=$(now_ms); kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; ms=$(( $(now_ms) - t0 ))
  kill $guard 2>/dev/null
  check "a reader blocked on an empty channel (state ${state:-gone}) ends on SIGINT within a second (${ms} ms)" [ "$state" = S -a $ms -lt 1000 ]
fi
barrier interrupted

# intervmfs chat between the two guests.
(sleep 3; echo "hello from guest $SIDE"; sleep 10) | timeout 60 $IVFS chat $MNT/chat --name "$SIDE" > /run/chat.out 2> /run/chat.err
check "chat: guest $SIDE got the other guest's line" grep -q "^$OTHER: hello from guest $OTHER\$" /run/chat.out
barrier chatted

out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount: $out"
cp /run/ivfs.log "$R/$SIDE.daemon.log" 2>/dev/null
say "done"
