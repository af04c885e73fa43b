#!/usr/bin/env bash
# What an idle mount pair costs: formats a set in a scratch folder, mounts
# side a and b with NOTIFY (poll by default; futex, for scale), waits 1 s,
# then prints each daemon's CPU time and context switches per second over
# SECONDS_IDLE (5) seconds, summed over its threads; unmounts and removes
# everything in all outcomes. Usage: NOTIFY=poll|futex bash scripts/idle-cost.sh
set -euo pipefail
CLI="$(cd "$(dirname "$0")/.." && pwd)/bin/intervmfs.js"
NOTIFY=${NOTIFY:-poll}
SECONDS_IDLE=${SECONDS_IDLE:-5}
D=$(mktemp -d /dev/shm/intervmfs-idle.XXXXXX)
cleanup() {
  node "$CLI" unmount "$D/a" >/dev/null 2>&1 || true
  node "$CLI" unmount "$D/b" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
node "$CLI" format --memsections "$D/ms" >/dev/null
mkdir -p "$D/a" "$D/b"
for s in a b; do node "$CLI" mount "$D/$s" --memsections "$D/ms" --side "$s" --notify "$NOTIFY" >/dev/null; done
sleep 1
pids=()
for s in a b; do pids+=("$(pgrep -f "intervmfs.* $D/$s( |$)" | head -1)"); done
# pid, CPU ticks (user + system) and context switches (voluntary + not) of all threads
snapshot() {
  for p in "${pids[@]}"; do
    ticks=0 switches=0
    for t in /proc/"$p"/task/*; do
      read -r u k < <(cut -d' ' -f14,15 "$t/stat")
      ticks=$((ticks + u + k))
      switches=$((switches + $(awk '/ctxt_switches/ { n += $2 } END { print n }' "$t/status")))
    done
    echo "$p $ticks $switches"
  done
}
before=$(snapshot)
sleep "$SECONDS_IDLE"
after=$(snapshot)
hz=$(getconf CLK_TCK)
paste <(echo "$before") <(echo "$after") | awk -v s="$SECONDS_IDLE" -v hz="$hz" -v m="$NOTIFY" \
  '{ printf "%s daemon %s: %.1f ms CPU/s, %.0f context switches/s\n", m, $1, ($5 - $2) * 1000 / hz / s, ($6 - $3) / s }'
