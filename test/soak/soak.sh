#!/usr/bin/env bash
# Load run (`npm run soak`): 64 channels streaming at once for SOAK_SECONDS
# (default 180) with every transfer's digest checked, 10,000 open/write/close
# cycles on one channel, 1,000 mknod/unlink cycles from both sides at once.
# Reports each daemon's resident memory and open descriptors at start and end.
# Not part of `npm test` (it runs for minutes); same setup and cleanup as the
# shell transfer tests.
source "$(dirname "$0")/../shell/lib.sh"
TEST_NAME=soak
SOAK_SECONDS=${SOAK_SECONDS:-180}
CHANNELS=64
setup --channels 72 --data-size 72M   # 64 streaming channels plus room for the cycles

daemon_pid() { $IVFS status --json --memsections "$MS" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).sides[$1].pid))"; }
PID_A=$(daemon_pid 0) PID_B=$(daemon_pid 1)
# RssAnon: the daemon's own memory. VmRSS also counts the pages of the mapped
# memsections it has touched, which grows to their size as channels are used.
rss_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
sample() { echo "$(rss_kib "$PID_A") $(fds "$PID_A") $(rss_kib "$PID_B") $(fds "$PID_B")"; }
read -r rss_a0 fd_a0 rss_b0 fd_b0 <<< "$(sample)"
say "start: daemon a ${rss_a0} KiB resident (anonymous), ${fd_a0} fds; daemon b ${rss_b0} KiB, ${fd_b0} fds"

# --- 64 channels streaming at once, rounds until the time is up ------------
head -c 4M /dev/urandom > "$WORK/payload"
want=$(digest "$WORK/payload")
for i in $(seq 1 $CHANNELS); do mknod "$A/s$i" p; done
end=$(( $(date +%s) + SOAK_SECONDS ))
rounds=0 transfers=0 bad=0 moved_mib=0
while [ "$(date +%s)" -lt "$end" ]; do
  rounds=$((rounds + 1))
  pids=()
  for i in $(seq 1 $CHANNELS); do
    # Alternate directions per round and per channel.
    if [ $(( (i + rounds) % 2 )) -eq 0 ]; then from=$A to=$B; else from=$B to=$A; fi
    (sha256sum < "$to/s$i" | cut -d' ' -f1 > "$WORK/s$i.sum") & pids+=($!)
    (dd if="$WORK/payload" of="$from/s$i" bs=128K status=none) & pids+=($!)
  done
  wait "${pids[@]}"
  for i in $(seq 1 $CHANNELS); do
    transfers=$((transfers + 1))
    [ "$(cat "$WORK/s$i.sum")" = "$want" ] || bad=$((bad + 1))
  done
  moved_mib=$((moved_mib + 4 * CHANNELS))
  if [ -z "${rss_aw:-}" ] && [ $(( end - $(date +%s) )) -le $(( SOAK_SECONDS / 2 )) ]; then
    read -r rss_aw fd_aw rss_bw fd_bw <<< "$(sample)"
    printf '\n  half way (warm): daemon a %s KiB, %s fds; daemon b %s KiB, %s fds\n' "$rss_aw" "$fd_aw" "$rss_bw" "$fd_bw" >&2
  fi
  printf '\r  streaming: round %d, %d transfers, %d MiB, %d bad, %ds left ' "$rounds" "$transfers" "$moved_mib" "$bad" $(( end - $(date +%s) )) >&2
done
echo >&2
say "$transfers transfers of 4 MiB over $CHANNELS channels in $rounds rounds ($moved_mib MiB), $bad with a wrong digest"
check "64 channels streaming for ${SOAK_SECONDS}s: every transfer arrives intact" [ "$bad" -eq 0 -a "$transfers" -gt 0 ]

# --- 10,000 open/write/close cycles on one channel ---------------------------
mknod "$A/cycles" p
(wc -c < "$B/cycles" > "$WORK/cycles.count") & reader=$!
exec 7> "$A/cycles"                  # a writer kept open (not by the reader) so it sees no EOF between cycles
node -e '
  const fs = require("fs");
  const line = Buffer.from("x".repeat(99) + "\n");
  for (let i = 0; i < 10000; i++) { const fd = fs.openSync(process.argv[1], "w"); fs.writeSync(fd, line); fs.closeSync(fd); }
' "$A/cycles"
exec 7>&-
wait $reader
check "10,000 open/write/close cycles: all 1,000,000 bytes arrive" [ "$(cat "$WORK/cycles.count")" -eq 1000000 ]

# --- 1,000 mknod/unlink cycles from both sides at once -----------------------
churn() { local side=$1 dir=$2 fails=0; for i in $(seq 1 1000); do mknod "$dir/churn-$side-$i" p && rm "$dir/churn-$side-$i" || fails=$((fails + 1)); done; echo $fails > "$WORK/churn-$side.fails"; }
churn a "$A" & ca=$!
churn b "$B" & cb=$!
wait $ca $cb
check "1,000 mknod/unlink cycles from each side at once, none refused" [ "$(cat "$WORK/churn-a.fails")" -eq 0 -a "$(cat "$WORK/churn-b.fails")" -eq 0 ]
check "no churn channel is left on either side" [ "$(ls "$A" "$B" | grep -c churn)" -eq 0 ]

read -r rss_a1 fd_a1 rss_b1 fd_b1 <<< "$(sample)"
: "${rss_aw:=$rss_a0}" "${rss_bw:=$rss_b0}"   # a run too short to have a half-way sample
say "end:   daemon a ${rss_a1} KiB resident (anonymous), ${fd_a1} fds; daemon b ${rss_b1} KiB, ${fd_b1} fds"
check "descriptors of both daemons flat (start $fd_a0/$fd_b0, end $fd_a1/$fd_b1)" [ "$fd_a1" -le $((fd_a0 + 2)) -a "$fd_b1" -le $((fd_b0 + 2)) ]
# Resident size grows under the first load (V8's heap sizes itself to the
# load, libfuse's buffers) and then holds: compared with the sample half way
# through the streaming, growth beyond 16 MiB over the rest would be a leak.
# That holds because the daemon's young generation is bounded (1 MiB
# semi-spaces, src/daemon/background.ts): V8's default lets it grow to
# 32 MiB under the mknod/unlink churn above, and this check then measured
# V8's sizing instead (a 15.9 -> 33.8 MiB, with 5 MiB of heap in use after a
# full GC). What remains is old space filling up to its next full GC, a few
# MiB; a real leak keeps growing with the work.
bounded_young() { grep -qa -- --max-semi-space-size= "/proc/$PID_A/cmdline" && grep -qa -- --max-semi-space-size= "/proc/$PID_B/cmdline"; }
check "both daemons run with a bounded young generation" bounded_young
check "resident memory of both daemons flat after warm-up (a $rss_aw -> $rss_a1 KiB, b $rss_bw -> $rss_b1 KiB)" \
  [ $((rss_a1 - rss_aw)) -lt 16384 -a $((rss_b1 - rss_bw)) -lt 16384 ]
finish
