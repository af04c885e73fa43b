#!/usr/bin/env bash
# intervmfs as an installed tool, mounted the way sshfs is: packs the checkout
# with npm pack, installs the tarball globally into a temporary prefix put first
# on PATH, mounts side a with `mount -t fuse.intervmfs SET A -o side=a` and
# side b through a private fstab file (`mount -T FSTAB B`), both through the
# system's mount.fuse helper, moves a line from a to b, unmounts both with
# umount(8) and checks that no daemon is left and nothing is mounted.
#
# mount(8) clears PATH before it runs mount.fuse (util-linux sanitizes the
# environment, also for root), and mount.fuse's /bin/sh then looks for
# `intervmfs` in its default path (/usr/local/sbin:/usr/local/bin:/usr/sbin:
# /usr/bin:/sbin:/bin), and `#!/usr/bin/env node` for node in /bin:/usr/bin.
# So for the length of the test /usr/local/bin/intervmfs links to the
# temporary install, as `npm install -g` with prefix /usr/local would put it.
#
# Skipped (exit 0, with the reason) where mount.fuse is missing (Debian:
# apt-get install fuse3), node is not in /usr/bin or /bin, or another
# intervmfs sits in /usr/local/sbin or /usr/local/bin.
source "$(dirname "$0")/lib.sh"

skip() { echo "$TEST_NAME: skipped: $*"; exit 0; }
{ command -v mount.fuse || [ -x /sbin/mount.fuse ] || [ -x /usr/sbin/mount.fuse ]; } >/dev/null 2>&1 ||
  skip "mount.fuse is not installed (Debian: apt-get install fuse3)"
[ -x /usr/bin/node ] || [ -x /bin/node ] ||
  skip "node is not in /usr/bin or /bin, where a program that mount(8) runs finds it"
LINK=/usr/local/bin/intervmfs
for other in /usr/local/sbin/intervmfs "$LINK"; do
  [ -e "$other" ] || [ -L "$other" ] && skip "$other exists, and mount(8) would run it instead of the package under test"
done

WORK=$(mktemp -d /tmp/intervmfs-shell.XXXXXX)
SHM=$(mktemp -d /dev/shm/intervmfs-shell.XXXXXX)
MS=$SHM/ms
A=$WORK/a B=$WORK/b C=$WORK/c V1=$WORK/v1 V2=$WORK/v2
mkdir -p "$A" "$B" "$C" "$V1" "$V2"
# run.sh runs this once per notifier: the second run reuses the first's install.
if [ -n "${PAYLOADS:-}" ]; then PKG=$PAYLOADS/t60-pkg; else PKG=$WORK/pkg; fi
PREFIX=$PKG/prefix
IVFS_INSTALLED=$PREFIX/bin/intervmfs

# A daemon records itself in /run/intervmfs/<first 16 hex of sha1(mount point)>.json
# (src/daemon/registry.ts). Its pid is taken from there rather than from a
# scan of every process: pgrep blocks while any process on the machine is
# stuck with its memory map locked.
RUNTIME=${INTERVMFS_RUNTIME_DIR:-/run/intervmfs}
record() { echo "$RUNTIME/$(printf %s "$1" | sha1sum | cut -c1-16).json"; }
daemon_pid() { sed -n 's/^ *"pid": *\([0-9][0-9]*\),*$/\1/p' "$(record "$1")" 2>/dev/null; }
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -qs '^State:.*zombie' "/proc/$1/status"; }
# Any daemon of this test, also unrecorded ones: a bounded scan, for cleanup only.
daemons() { timeout 10 pgrep -f "intervmfs(\.js)? mount $WORK/"; }
mounted() { grep -qs " $1 " /proc/mounts; }
PID_A= PID_B= PID_V1= PID_V2=

cleanup_t60() {
  local rc=$?
  set +e
  [ "$(readlink "$LINK" 2>/dev/null)" = "$IVFS_INSTALLED" ] && rm -f "$LINK"
  jobs -p | xargs -r kill -KILL 2>/dev/null
  for m in "$A" "$B" "$C" "$V1" "$V2"; do
    if mounted "$m"; then
      "$IVFS_INSTALLED" unmount --force "$m" >/dev/null 2>&1 || $IVFS unmount --force "$m" >/dev/null 2>&1
      mounted "$m" && umount -l "$m" 2>/dev/null
    fi
  done
  for pid in $PID_A $PID_B ${PID_V1:-} ${PID_V2:-} $(daemons); do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$WORK" "$SHM"
  exit $rc
}
trap cleanup_t60 EXIT
trap 'exit 130' INT TERM

# (a) Pack and install into a temporary prefix, first on PATH.
if [ ! -x "$IVFS_INSTALLED" ]; then
  mkdir -p "$PKG"
  say "npm pack, then npm install -g --prefix $PREFIX (log: $PKG/install.log)"
  if ! (cd "$ROOT" && npm pack --pack-destination "$PKG" >"$PKG/pack.log" 2>&1); then
    tail -n 30 "$PKG/pack.log"; echo "npm pack failed"; exit 1
  fi
  if ! npm install -g --prefix "$PREFIX" --no-audit --no-fund --foreground-scripts "$PKG"/intervmfs-*.tgz >"$PKG/install.log" 2>&1; then
    tail -n 30 "$PKG/install.log"; echo "npm install -g of the tarball failed"; exit 1
  fi
fi
export PATH=$PREFIX/bin:$PATH
check "intervmfs on PATH is the installed one" [ "$(command -v intervmfs)" = "$IVFS_INSTALLED" ]
mkdir -p "$(dirname "$LINK")" && ln -s "$IVFS_INSTALLED" "$LINK"
check "mount.fuse's shell, without PATH, finds the installed intervmfs" \
  [ "$(env -i /bin/sh -c 'readlink -f "$(command -v intervmfs)"')" = "$(readlink -f "$IVFS_INSTALLED")" ]
check "the tarball carries no checkout-only files (tests, memsections, mount, src)" \
  bash -c "! tar tzf $PKG/intervmfs-*.tgz | grep -Eq '^package/(test|memsections|mount|src|dist/test)/'"
check "the install used the prebuilt binaries (no compiler needed)" grep -q 'use the prebuilt binaries' "$PKG/install.log"
check "intervmfs --version prints the package's version" \
  [ "$(intervmfs --version)" = "$(node -p "require('$ROOT/package.json').version")" ]

# (b) Format, mount a with mount -t, b through a private fstab.
intervmfs format --memsections "$MS" >/dev/null || { echo "format failed"; exit 1; }
mount -t fuse.intervmfs "$MS" "$A" -o "side=a,notify=$NOTIFY,log=$WORK/a.log"; rc=$?
check "mount -t fuse.intervmfs SET A -o side=a,notify=$NOTIFY returns 0 once mounted" [ $rc -eq 0 ]
check "side a is mounted as fuse.intervmfs, its source the memsection set" grep -qs "^$MS $A fuse.intervmfs " /proc/mounts
echo "$MS $B fuse.intervmfs side=b,nofail,notify=$NOTIFY,log=$WORK/b.log 0 0" > "$WORK/fstab"
mount -T "$WORK/fstab" "$B"; rc=$?
check "mount -T FSTAB B (side=b,nofail) returns 0 once mounted" [ $rc -eq 0 ]
check "side b is mounted as fuse.intervmfs" grep -qs " $B fuse.intervmfs " /proc/mounts
PID_A=$(daemon_pid "$A") PID_B=$(daemon_pid "$B")
# The daemon is `node [node flags] <script> mount ...`: its script must resolve into the install.
from_prefix() {
  alive "$1" || return 1
  local script
  script=$(timeout 5 tr '\0' '\n' < "/proc/$1/cmdline" | sed -n '2,$p' | sed -n '/^-/!{p;q}')
  case "$(readlink -f "$script")" in "$PREFIX"/*) return 0 ;; *) say "pid $1 runs $script"; return 1 ;; esac
}
both_from_prefix() { from_prefix "$PID_A" && from_prefix "$PID_B"; }
check "both daemons (pids ${PID_A:-none} and ${PID_B:-none}) run from the installed package" both_from_prefix
intervmfs status --memsections "$MS" > "$WORK/status.txt"
check "status shows both sides attached" bash -c "grep -q '^  a: attached' '$WORK/status.txt' && grep -q '^  b: attached' '$WORK/status.txt'"

# Refusals come back through mount(8) with the reason.
mount -t fuse.intervmfs "$MS" "$C" -o side=a,bogus 2> "$WORK/bogus.err"; rc=$?
check "an unknown option is refused (status $rc): $(head -c 80 "$WORK/bogus.err")" \
  bash -c "[ $rc -ne 0 ] && grep -q \"unknown mount option 'bogus'\" '$WORK/bogus.err'"
mount -t fuse.intervmfs "$MS" "$C" -o "side=a,log=$WORK/c.log" 2> "$WORK/busy.err"; rc=$?
check "a side already served is refused (status $rc)" bash -c "[ $rc -ne 0 ] && ! grep -qs ' $C ' /proc/mounts"

# (c) A line from a to b.
mknod "$A/line" p
timeout 10 cat "$B/line" > "$WORK/line.out" &
reader=$!
echo "hello through mount -t fuse.intervmfs" > "$A/line"
wait $reader; rc=$?
check "a line written on side a is read on side b, then EOF" \
  [ $rc -eq 0 -a "$(cat "$WORK/line.out")" = "hello through mount -t fuse.intervmfs" ]

# (c2) An area of an area region, from mount -t (vm1, which creates it) and
# from an fstab line (vm2, which gives no size): a channel each way.
REGION=$SHM/areas
intervmfs format --areas --memsections "$REGION" --size 16M >/dev/null || { echo "format --areas failed"; exit 1; }
mount -t fuse.intervmfs "$REGION" "$V1" -o "area=7,peer=vm1,area-size=8M,notify=$NOTIFY,log=$WORK/v1.log"; rc=$?
check "mount -t fuse.intervmfs REGION V1 -o area=7,peer=vm1,area-size=8M returns 0 once mounted" [ $rc -eq 0 ]
echo "$REGION $V2 fuse.intervmfs area=7,peer=vm2,nofail,notify=$NOTIFY,log=$WORK/v2.log 0 0" >> "$WORK/fstab"
mount -T "$WORK/fstab" "$V2"; rc=$?
check "mount -T FSTAB V2 (area=7,peer=vm2) returns 0 once mounted" [ $rc -eq 0 ]
check "each peer lists the other" [ "$(ls "$V1")" = vm2 -a "$(ls "$V2")" = vm1 ]
mknod "$V1/vm2/hello" p
timeout 10 cat "$V2/vm1/hello" > "$WORK/v2.out" & reader=$!
echo "from vm1" > "$V1/vm2/hello"
wait $reader; rc=$?
timeout 10 cat "$V1/vm2/hello" > "$WORK/v1.out" & reader=$!
echo "from vm2" > "$V2/vm1/hello"
wait $reader; rc2=$?
check "a line goes vm1 -> vm2 and one vm2 -> vm1 through the area's channel" \
  [ $rc -eq 0 -a $rc2 -eq 0 -a "$(cat "$WORK/v2.out")" = "from vm1" -a "$(cat "$WORK/v1.out")" = "from vm2" ]
intervmfs status --memsections "$REGION" > "$WORK/areas.txt"
check "status shows area 7, its owner vm1 and both mappings" \
  bash -c "grep -q '^area 7: 8 MiB .*owner vm1' '$WORK/areas.txt' && grep -q '^    vm1: attached' '$WORK/areas.txt' && grep -q '^    vm2: attached' '$WORK/areas.txt'"
mount -t fuse.intervmfs "$REGION" "$C" -o "area=7,peer=vm3,area-size=4M,log=$WORK/v3.log" 2> "$WORK/size.err"; rc=$?
check "a different area size is refused through mount(8), naming both sizes (status $rc)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'created with a size of 8 MiB (by vm1); vm3 asked for 4 MiB' '$WORK/size.err' && ! grep -qs ' $C ' /proc/mounts"
PID_V1=$(daemon_pid "$V1") PID_V2=$(daemon_pid "$V2")
umount "$V1"; rc_a=$?
umount "$V2"; rc_b=$?
check "umount V1 and umount V2 succeed" [ $rc_a -eq 0 -a $rc_b -eq 0 ]
for _ in $(seq 50); do alive "$PID_V1" || alive "$PID_V2" || break; sleep 0.2; done
areas_ended() { ! alive "$PID_V1" && ! alive "$PID_V2"; }
check "both area daemons (pids ${PID_V1:-none} and ${PID_V2:-none}) have ended within 10 s of umount" areas_ended

# (d) umount(8) ends both mounts, (e) and their daemons.
umount "$A"; rc_a=$?
umount "$B"; rc_b=$?
check "umount A and umount B succeed" [ $rc_a -eq 0 -a $rc_b -eq 0 ]
for _ in $(seq 50); do alive "$PID_A" || alive "$PID_B" || break; sleep 0.2; done
both_ended() { ! alive "$PID_A" && ! alive "$PID_B"; }
check "both daemons have ended within 10 s of umount" both_ended
check "and removed their records" [ ! -e "$(record "$A")" -a ! -e "$(record "$B")" ]
check "nothing is mounted under the test folder" bash -c "! grep -qs ' $WORK/' /proc/mounts"
finish
