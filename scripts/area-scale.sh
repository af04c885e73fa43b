#!/usr/bin/env bash
# How mknod and unlink in an area mount depend on the number of peers: an
# area with 2 peers and one with 16, mounted side by side; in alternating
# rounds a Python loop (no process per call) makes N channels in one peer's
# folder and removes them. Prints the median time per mknod and per unlink of
# each, with the min-max over rounds. Usage: scripts/area-scale.sh [ROUNDS] [N]
# (default 9 rounds of 16, the channels of a pair). Leaves nothing mounted and nothing in /dev/shm.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-9} N=${2:-16}
IVFS="node $ROOT/bin/intervmfs.js"
WORK=$(mktemp -d /tmp/intervmfs-area-scale.XXXXXX)
REGION=$(mktemp -u /dev/shm/intervmfs-area-scale.XXXXXX)
export INTERVMFS_RUNTIME_DIR=$WORK/runtime
cleanup() {
  for m in "$WORK"/m*; do grep -qs " $m " /proc/mounts && { $IVFS unmount --force "$m" >/dev/null 2>&1 || umount -l "$m"; }; done
  rm -rf "$WORK" "$REGION"
}
trap cleanup EXIT
$IVFS format --areas --memsections "$REGION" --size 80M >/dev/null
mount_peer() { mkdir -p "$WORK/m$1-$2"; $IVFS mount "$WORK/m$1-$2" --memsections "$REGION" --area "$1" --peer "$2" $3 >/dev/null; }
mount_peer 1 p01 "--area-size 4M --pair-size 1M"
mount_peer 1 p02 ""
mount_peer 2 p01 "--area-size 64M --pair-size 512K --pair-channels 16"
for i in $(seq 2 16); do mount_peer 2 "p$(printf %02d "$i")" ""; done
echo "areas mounted: area 1 with 2 peers, area 2 with 16 peers; $ROUNDS rounds of $N mknod + $N unlink"
measure() {
  python3 - "$1" "$N" <<'PY'
import os, sys, time
folder, n = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
for i in range(n): os.mknod(os.path.join(folder, f"c{i}"), 0o600 | 0o010000)
t1 = time.perf_counter()
for i in range(n): os.unlink(os.path.join(folder, f"c{i}"))
t2 = time.perf_counter()
print(f"{(t1 - t0) / n * 1e3:.3f} {(t2 - t1) / n * 1e3:.3f}")
PY
}
declare -a mk2 rm2 mk16 rm16
for r in $(seq "$ROUNDS"); do
  read -r a b < <(measure "$WORK/m1-p01/p02"); mk2+=("$a"); rm2+=("$b")
  read -r a b < <(measure "$WORK/m2-p01/p02"); mk16+=("$a"); rm16+=("$b")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%.3f ms [%.3f-%.3f]", v[int((NR+1)/2)], v[1], v[NR]}'; }
printf '%-10s %-28s %-28s\n' "" "2 peers" "16 peers"
printf '%-10s %-28s %-28s\n' mknod "$(stats "${mk2[@]}")" "$(stats "${mk16[@]}")"
printf '%-10s %-28s %-28s\n' unlink "$(stats "${rm2[@]}")" "$(stats "${rm16[@]}")"
