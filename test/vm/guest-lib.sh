# Sourced by the scripts that run inside a test guest (guest-test.sh,
# guest-bench.sh), as "script SIDE RESULTS NOTIFIERS BIG": the variables and
# helpers both need. The two guests keep in step through marker files in the
# shared results folder.
set -u
SIDE=$1 R=$2 NOTIFIERS=${3:-poll} BIG=${4:-64m}
NOTIFIERS=${NOTIFIERS//,/ }
OTHER=$([ "$SIDE" = a ] && echo b || echo a)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# intervmfs as installed from the packed tarball into $IVFS_PREFIX (run.sh;
# guest-init.sh puts its bin/ first on PATH), never the checkout's bin/ or
# dist/; the peer program from the same install.
PREFIX=${IVFS_PREFIX:-}
IVFS=intervmfs
PKGDIR=$PREFIX/lib/node_modules/intervmfs
PEER=$PKGDIR/build/Release/intervmfs-peer
PAY=$R/payloads
MNT=/run/mnt
# Guest a has two ivshmem devices (test/vm/run.sh), so it names its doorbell
# device; guest b finds its only one by itself.
IVSHMEM=$([ "$SIDE" = a ] && echo ivshmem:0000:00:10.0 || echo ivshmem)

say() { echo "VMTEST $SIDE $*"; echo "$*" >> "$R/$SIDE.log"; }
check() { local what=$1; shift; if "$@"; then say "ok $what"; else say "FAIL $what"; fi; }
if [ -z "$PREFIX" ] || [ "$(command -v intervmfs)" != "$PREFIX/bin/intervmfs" ]; then
  say "FAIL intervmfs on PATH is $(command -v intervmfs || echo 'missing'), not the install in ${PREFIX:-(no ivfs.prefix given)}"
  exit 1
fi
# in_install PID: the process runs a script of the installed package (`node [flags] SCRIPT ...`).
in_install() {
  local script
  script=$(tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | sed -n '2,$p' | sed -n '/^-/!{p;q}')
  case "$(readlink -f "$script")" in "$PKGDIR"/*) return 0 ;; *) say "  pid $1 runs ${script:-nothing}"; return 1 ;; esac
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# barrier NAME: both guests reach NAME before either goes on. The other
# guest's file is looked for every BARRIER_NAP seconds (the guest bench
# naps less: the two leave a barrier that far apart at most).
barrier() {
  touch "$R/$SIDE.at.$1"
  local until=$((SECONDS + 300))
  while [ $SECONDS -lt $until ]; do [ -e "$R/$OTHER.at.$1" ] && return 0; sleep "${BARRIER_NAP:-0.1}"; done
  say "FAIL the other guest did not reach step $1 within 300 s"; exit 1
}
bytes() { case $1 in 4k) echo 4096 ;; 2m) echo 2097152 ;; 64m) echo 67108864 ;; 1g) echo 1073741824 ;; esac; }
# CPU time (clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Interrupts this guest took from the doorbell (the VFIO MSI-X lines).
doorbell_irqs() { awk '/vfio-msix/ { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i } END { print n + 0 }' /proc/interrupts; }
# mount_side NOTIFY [OPTION...]: mounts this guest's side on $MNT with those
# mount options too (of the set $MOUNT_SET, by default the ivshmem BAR);
# sets DAEMON (its pid).
mount_side() {
  mkdir -p $MNT
  if ! $IVFS mount $MNT --memsections "${MOUNT_SET:-$IVSHMEM}" --side "$SIDE" --notify "$1" "${@:2}" --log "/run/ivfs-$1.log" > /run/mount.out 2>&1; then
    say "FAIL mount with --notify $1: $(cat /run/mount.out)"; return 1
  fi
  DAEMON=$(sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' /run/mount.out)
}

# The virtio-serial port QEMU joined to the other guest's (run.sh), as
# /dev/vportNpM (no udev here, so no /dev/virtio-ports/ names).
virtio_port() {
  local name
  name=$(grep -lx org.intervmfs.port0 /sys/class/virtio-ports/*/name 2>/dev/null | head -n 1)
  [ -n "$name" ] && echo "/dev/$(basename "$(dirname "$name")")"
}
port_joined() { $IVFS status --memsections /run/port-set 2>/dev/null | grep -q "^  $OTHER: attached pid"; }
# mount_port [OPTION...]: this guest's side on a private set (/run/port-set,
# formatted alike in both guests) kept in step with the other guest's over
# that port (mount --port); returns once the other side shows attached
# through it. status takes seconds under TCG: a deadline, not a count.
mount_port() {
  local vport until
  vport=$(virtio_port) || { say "FAIL no virtio-serial port named org.intervmfs.port0"; return 1; }
  if [ ! -e /run/port-set/control ]; then
    $IVFS format --memsections /run/port-set --channels 32 --data-size 32M > /dev/null || { say "FAIL format of the private set /run/port-set"; return 1; }
  fi
  MOUNT_SET=/run/port-set mount_side futex --port "$vport" "$@" || return 1
  until=$(( $(date +%s) + 60 ))
  until port_joined || [ "$(date +%s)" -gt $until ]; do sleep 0.5; done
  port_joined || { say "FAIL side $OTHER did not show attached through $vport within 60 s"; return 1; }
}
