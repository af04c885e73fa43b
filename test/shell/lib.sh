# Shared setup for the shell transfer tests: a memsection set in a temporary
# folder (never /dev/shm), two mounts standing in for two VMs, and a trap that
# unmounts and removes everything however the test ends.
# Each test sources this file, calls `setup`, then uses $A and $B (the mount
# points of side a and side b), `check` and `finish`.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IVFS="node $ROOT/bin/intervmfs.js"
NOTIFY=${NOTIFY:-futex}
# shm: both mounts share one set; port: each has its own, joined by a socket.
TRANSPORT=${TRANSPORT:-shm}
TEST_NAME=$(basename "$0" .sh)
PASSED=0
FAILED=0

say() { printf '  %s\n' "$*"; }

# check "description" command...: runs the command, counts and prints the outcome.
check() {
  local what=$1; shift
  if "$@"; then PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$what"
  else FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$what"; fi
}

cleanup() {
  local rc=$?
  set +e
  # Children first: a reader still blocked in a channel keeps a mount busy.
  jobs -p | xargs -r kill -KILL 2>/dev/null
  for m in "${A:-}" "${B:-}"; do
    [ -n "$m" ] || continue
    $IVFS unmount --force "$m" >/dev/null 2>&1
    if grep -qs " $m " /proc/mounts; then umount -l "$m" 2>/dev/null; fi
  done
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  [ -n "${SHM:-}" ] && rm -rf "$SHM"
  exit $rc
}

setup() {
  WORK=$(mktemp -d /tmp/intervmfs-shell.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  A=$WORK/a B=$WORK/b
  mkdir -p "$A" "$B"
  # The memsections in memory (tmpfs), as a host's ivshmem region would be: on
  # a disk filesystem the kernel keeps writing the ring pages back to disk.
  SHM=$(mktemp -d /dev/shm/intervmfs-shell.XXXXXX)
  MS=$SHM/ms
  if [ "$TRANSPORT" = port ]; then
    # Two private copies, one per side, as two guests without shared memory
    # have, kept in step over a Unix socket (a listens, b connects).
    MS_A=$SHM/ms-a MS_B=$SHM/ms-b
    $IVFS format --memsections "$MS_A" "$@" >/dev/null && $IVFS format --memsections "$MS_B" "$@" >/dev/null || { echo "format failed"; exit 1; }
    $IVFS mount "$A" --memsections "$MS_A" --side a --notify "$NOTIFY" --port "unix-listen:$WORK/port.sock" --log "$WORK/a.log" >/dev/null || { echo "mount a failed"; exit 1; }
    $IVFS mount "$B" --memsections "$MS_B" --side b --notify "$NOTIFY" --port "unix:$WORK/port.sock" --log "$WORK/b.log" >/dev/null || { echo "mount b failed"; exit 1; }
    # Joined once each copy shows the other side attached.
    local i
    for i in $(seq 1 50); do
      attached_in "$MS_A" 1 && attached_in "$MS_B" 0 && return 0
      sleep 0.1
    done
    echo "the two sides did not join over the port"; exit 1
  fi
  $IVFS format --memsections "$MS" "$@" >/dev/null || { echo "format failed"; exit 1; }
  $IVFS mount "$A" --memsections "$MS" --side a --notify "$NOTIFY" --log "$WORK/a.log" >/dev/null || { echo "mount a failed"; exit 1; }
  $IVFS mount "$B" --memsections "$MS" --side b --notify "$NOTIFY" --log "$WORK/b.log" >/dev/null || { echo "mount b failed"; exit 1; }
}

# attached_in SET SIDE: whether `status` of SET shows side SIDE (0 a, 1 b) attached.
attached_in() {
  $IVFS status --memsections "$1" --json 2>/dev/null | node -e 'process.exit(JSON.parse(require("fs").readFileSync(0, "utf8")).sides[process.argv[1]].attached ? 0 : 1)' "$2"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
digest() { sha256sum < "$1" | cut -d' ' -f1; }

# Ends the test: the counts go to run.sh, the exit status says pass or fail.
finish() {
  echo "$TEST_NAME: $PASSED passed, $FAILED failed (notify $NOTIFY, $TRANSPORT)"
  if [ "$FAILED" -ne 0 ]; then
    for log in "$WORK"/a.log "$WORK"/b.log; do echo "--- $log (last lines)"; tail -n 20 "$log" 2>/dev/null; done
  fi
  [ "$FAILED" -eq 0 ]
}
