#!/usr/bin/env bash
# A reader blocked on an empty channel and a writer blocked on a full one end
# within a second on SIGINT, SIGTERM and SIGKILL, never sit in uninterruptible
# sleep, and the channel keeps working for the next reader.
source "$(dirname "$0")/lib.sh"
set -m   # background jobs get SIGINT like a foreground program would
setup

proc_state() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null; }

# interrupt PID SIGNAL: sends the signal to a blocked process and checks that
# it was sleeping interruptibly and ends in under a second, killed by it.
interrupt() {
  local pid=$1 sig=$2 state t0 rc elapsed
  state=$(proc_state "$pid")
  t0=$(now_ms)
  kill -s "$sig" "$pid"
  wait "$pid"; rc=$?
  elapsed=$(( $(now_ms) - t0 ))
  say "blocked in state $state, SIG$sig ended it in ${elapsed} ms with status $rc"
  [ "$state" = S ] && [ "$elapsed" -lt 1000 ] && [ "$rc" -eq $((128 + $(kill -l "$sig"))) ]
}

mknod "$A/idle" p
for sig in INT TERM KILL; do
  cat "$B/idle" > /dev/null &
  reader=$!
  sleep 0.5
  check "a reader blocked on an empty channel ends on SIG$sig within a second" interrupt $reader $sig
done

cat "$B/idle" > "$WORK/next" &
reader=$!
echo "still works" > "$A/idle"
wait $reader
check "the next reader gets the data" [ "$(cat "$WORK/next")" = "still works" ]

# A writer blocks once the ring is full and nobody reads.
mknod "$A/full" p
exec 4< "$B/full"   # a reader that is attached but never reads
for sig in INT KILL; do
  dd if=/dev/zero of="$A/full" bs=64K count=1024 status=none &
  writer=$!
  sleep 1
  check "a writer blocked on a full channel ends on SIG$sig within a second" interrupt $writer $sig
done
exec 4<&-
finish
