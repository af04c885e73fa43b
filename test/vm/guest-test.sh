#!/bin/bash
# Runs inside a test guest (as PID 1's child, chrooted into the host's root):
# mounts its side of the ivshmem region and does its half of each step, in
# step with the other guest through files in the shared results folder.
# The whole suite runs once per notifier named in $3 (poll,doorbell), each
# round on its own mount and its own channels; the round named port runs it
# on private sets joined by a virtio-serial port instead (mount --port). Every outcome is a line
# "VMTEST <side> ok|FAIL|figure ..." on the console and in <results>/<side>.log.
. "$(dirname "$0")/guest-lib.sh"
digest() { sha256sum | cut -d' ' -f1; }

# One round of the suite over notifier $N, or over two (A/B: guest a uses A,
# guest b uses B, so each wakes the other the way the other chose); channel
# names start with $P so that the rounds do not meet, files and barriers
# carry the tag $T.
round() {
N=$1 T=${1//\//-} P=${1:0:1}
MINE=$N
if [[ $N == */* ]]; then
  P=x
  MINE=$([ "$SIDE" = a ] && echo "${N%/*}" || echo "${N#*/}")
fi
if [ "$N" = port ]; then
  # No shared memory: a private set in this guest, kept in step with the
  # other guest's over the virtio-serial port QEMU joined to it.
  MINE=futex
  mount_port || return 1
  say "ok [$N] mounted side $SIDE on a private set over the port $(virtio_port), side $OTHER attached through it ($(cat /run/mount.out))"
else
  mount_side "$MINE" || return 1
  say "ok [$N] mounted side $SIDE over the ivshmem BAR ($(cat /run/mount.out))"
fi
check "[$N] the daemon (pid $DAEMON) runs the installed package" in_install "$DAEMON"
barrier $T-mounted
if [ "$MINE" = doorbell ]; then
  check "[$N] status shows side $SIDE sleeping on doorbell interrupts with its peer id" \
    grep -q "^  $SIDE: attached .*notify doorbell (peer id [0-9]*)" <<< "$($IVFS status --memsections $IVSHMEM)"
fi

if [ "$SIDE" = a ]; then
  for n in s4k_ab s4k_ba s2m_ab s2m_ba s${BIG}_ab s${BIG}_ba m1 m2 m3 m4 idle td tk pd pk chat; do mknod "$MNT/$P$n" p; done
fi
barrier $T-channels
check "[$N] the channels made on side a are listed on side $SIDE" [ "$(ls $MNT | grep -c "^$P")" -eq 16 ]

# Each size each way, as a user would: dd in, sha256sum out.
for size in 4k 2m $BIG; do
  for dir in ab ba; do
    ch=$MNT/${P}s${size}_$dir
    writer=${dir:0:1}
    if [ "$SIDE" = "$writer" ]; then
      barrier "$T-r-$size-$dir"
      dd if="$PAY/$size" of="$ch" bs=64K status=none
    else
      (t0=$(now_ms); got=$(digest < "$ch"); echo "$got $(( $(now_ms) - t0 ))" > /run/got) &
      reader=$!
      barrier "$T-r-$size-$dir"
      wait $reader
      read -r got ms < /run/got
      check "[$N] $size ${dir:0:1}->${dir:1:1} arrives with the same sha256 (dd | sha256sum, ${ms} ms)" [ "$got" = "$(cat "$PAY/$size.sha256")" ]
    fi
    barrier "$T-d-$size-$dir"
  done
done

# Timed with the benchmark's peer program: the big size one-shot with an
# ack, and 2000 round trips of 64 bytes, a->b.
big=$(bytes $BIG)
if [ "$SIDE" = b ]; then
  i0=$(doorbell_irqs)
  $PEER recv $MNT/${P}td $MNT/${P}tk $big 1048576 verify > "$R/b.$T.oneshot.json" &
  p1=$!
  barrier $T-timed
  wait $p1
  irqs=$(( $(doorbell_irqs) - i0 ))
  [ "$N" = port ] || say "figure [$N] doorbell interrupts taken by guest b while receiving $BIG: $irqs"
  if [ "$N" = poll/doorbell ]; then
    check "[$N] guest b, which sleeps on doorbell interrupts, was interrupted by guest a, which polls ($irqs interrupts)" [ "$irqs" -gt 0 ]
  fi
  $PEER pong $MNT/${P}pd $MNT/${P}pk 2000 64 > /dev/null &
  p2=$!
  barrier $T-ping
  wait $p2
else
  barrier $T-timed
  i0=$(doorbell_irqs)
  $PEER send $MNT/${P}td $MNT/${P}tk $big 1048576 verify > "$R/a.$T.oneshot.json"
  [ "$N" = port ] || say "figure [$N] doorbell interrupts taken by guest a while sending $BIG: $(( $(doorbell_irqs) - i0 ))"
  barrier $T-ping
  $PEER ping $MNT/${P}pd $MNT/${P}pk 2000 64 > "$R/a.$T.ping.json"
  say "figure intervmfs $N guest to guest: $BIG one-shot $(cat "$R/a.$T.oneshot.json"), 64 B round trip $(cat "$R/a.$T.ping.json")"
  if [ ! -e "$R/fifo.json" ]; then
    # The same inside this one guest through a kernel FIFO, for comparison.
    mkfifo /run/fd /run/fk
    $PEER recv /run/fd /run/fk $big 1048576 > /dev/null &
    $PEER send /run/fd /run/fk $big 1048576 > "$R/fifo.json"; wait
    $PEER pong /run/fd /run/fk 2000 64 > /dev/null &
    $PEER ping /run/fd /run/fk 2000 64 > "$R/fifo-ping.json"; wait
    say "figure kernel FIFO inside guest a: $BIG one-shot $(cat "$R/fifo.json"), 64 B round trip $(cat "$R/fifo-ping.json")"
  fi
fi
barrier $T-timed-done

# Four channels at once, a->b.
if [ "$SIDE" = b ]; then
  for i in 1 2 3 4; do (digest < $MNT/${P}m$i > /run/m$i.got) & done
  barrier $T-many
  wait
  intact=0
  for i in 1 2 3 4; do [ "$(cat /run/m$i.got)" = "$(cat "$PAY/2m.sha256")" ] && intact=$((intact + 1)); done
  check "[$N] 4 channels at once a->b, 2 MiB each: $intact of 4 intact" [ $intact -eq 4 ]
else
  barrier $T-many
  for i in 1 2 3 4; do dd if="$PAY/2m" of=$MNT/${P}m$i bs=64K status=none & done
  wait
fi
barrier $T-many-done

# A reader blocked on an empty channel ends on Ctrl-C within a second; while
# it waits, the daemon's CPU use shows what waiting costs with this notifier.
# Job control on, as in an interactive shell: otherwise a background job
# ignores SIGINT.
if [ "$SIDE" = b ]; then
  set -m
  cat $MNT/${P}idle > /dev/null &
  pid=$!
  set +m
  sleep 1
  c0=$(cpu_ticks "$DAEMON")
  sleep 3
  c1=$(cpu_ticks "$DAEMON")
  state=$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)
  (sleep 10; kill -KILL $pid 2>/dev/null) &
  guard=$!
  t0=$(now_ms); kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; ms=$(( $(now_ms) - t0 ))
  kill $guard 2>/dev/null
  check "[$N] a reader blocked on an empty channel (state ${state:-gone}) ends on SIGINT within a second (${ms} ms)" [ "$state" = S -a $ms -lt 1000 ]
  say "figure [$N] daemon CPU while a reader waits 3 s on an empty channel: $(( (c1 - c0) * 10 )) ms"
  # A waiting reader sleeps: poll's notifier naps cost ~250 ms in 3 s, a
  # request that spins (a futex that cannot wait, say) costs all 3000.
  check "[$N] the daemon sleeps while a reader waits (under half a CPU over 3 s)" [ $(( (c1 - c0) * 10 )) -lt 1500 ]
fi
barrier $T-interrupted

# intervmfs chat between the two guests (once: it takes a while under TCG).
if [ "$N" = "${NOTIFIERS##* }" ]; then
  (sleep 3; echo "hello from guest $SIDE"; sleep 10) | timeout 60 $IVFS chat $MNT/${P}chat --name "$SIDE" > /run/chat.out 2> /run/chat.err
  check "[$N] chat: guest $SIDE got the other guest's line" grep -q "^$OTHER: hello from guest $OTHER\$" /run/chat.out
fi
barrier $T-chatted

out=$($IVFS unmount $MNT 2>&1) || say "FAIL [$N] unmount: $out"
if [ "$MINE" = doorbell ]; then
  check "[$N] unmount gives the device back to no driver (it bound it to vfio-pci)" [ ! -e /sys/bus/pci/devices/0000:00:10.0/driver ]
fi
cp "/run/ivfs-$MINE.log" "$R/$SIDE.$T.daemon.log" 2>/dev/null
barrier $T-unmounted
}

# The installed intervmfs, not the checkout (guest-lib.sh stops before this otherwise).
check "intervmfs on PATH is the install from the packed tarball ($(command -v intervmfs) -> $(readlink -f "$(command -v intervmfs)"))" \
  [ "$(command -v intervmfs)" = "$PREFIX/bin/intervmfs" -a "$(readlink -f "$(command -v intervmfs)")" = "$PKGDIR/bin/intervmfs.js" ]
version=$(intervmfs --version 2>&1)
check "intervmfs --version ($version) is package.json's version" [ "$version" = "$(node -p "require('$ROOT/package.json').version")" ]
check "the peer program is the installed package's" [ -x "$PEER" ]

out=$($IVFS mount /run/other --memsections $IVSHMEM --side "$SIDE" --notify futex 2>&1); rc=$?
check "--notify futex is refused between guests (exit $rc)" [ $rc -ne 0 -a -z "${out##*cannot wake a peer in another guest*}" ]
if [ "$SIDE" = a ]; then
  out=$($IVFS mount /run/plain --memsections ivshmem:00:11.0 --side a --notify doorbell 2>&1); rc=$?
  refused() { [ $rc -ne 0 ] && [ -z "${out##*not an ivshmem-doorbell*}" ] && ! grep -q ' /run/plain ' /proc/mounts && [ ! -e /sys/bus/pci/devices/0000:00:11.0/driver ]; }
  check "--notify doorbell on an ivshmem-plain device is refused with the reason; nothing is mounted or left bound (exit $rc)" refused
  refused || say "  it said: $out"
  [ $rc -ne 0 ] || $IVFS unmount /run/plain > /dev/null 2>&1
  out=$($IVFS mount /run/plain --memsections ivshmem --side a 2>&1); rc=$?
  check "--memsections ivshmem with two devices asks which one (exit $rc)" [ $rc -ne 0 -a -z "${out##*several ivshmem devices found*}" ]
fi
# The library between the guests, once after the rounds (both sides are
# free again): a server program on guest a and a client program on guest b,
# by handle; then a library writer on a and a shell reader on a mount of b.
lib_across() {
  local LIB="node $ROOT/test/vm/lib-across.js $PKGDIR" out rc
  if [ "$SIDE" = a ]; then
    $LIB server $IVSHMEM a echo > /run/lib-server.out 2> /run/lib-server.err &
    local srv=$!
    for _ in $(seq 1 600); do grep -q listening /run/lib-server.out && break; kill -0 $srv 2>/dev/null || break; sleep 0.1; done
    check "library: a server program on guest a listens on handle echo" grep -q listening /run/lib-server.out
    barrier lib-listening
    wait $srv; rc=$?
    served() { [ $rc -eq 0 ] && grep -q closed /run/lib-server.out; }
    check "library: the server echoed its one connection and closed (exit $rc)" served
    served || say "  it said: $(cat /run/lib-server.err)"
    barrier lib-served
    out=$($LIB send $IVSHMEM a fromlib "$PAY/2m" 2>&1); rc=$?
    check "library: guest a's openChannel wrote 2 MiB to the channel fromlib, read on a mount of guest b (exit $rc)" [ $rc -eq 0 ]
    [ $rc -eq 0 ] || say "  it said: $out"
    barrier lib-sent
  else
    barrier lib-listening
    out=$($LIB client $IVSHMEM b echo 200 2>&1)
    check "library: a client program on guest b connected to handle echo on guest a, and got its 1 MiB back intact" grep -q '"intact":true' <<< "$out"
    say "figure library guest to guest by handle (notify poll): 200 round trips of 64 B and 1 MiB echoed: $out"
    barrier lib-served
    out=$($LIB refused $IVSHMEM b echo 2>&1)
    check "library: a connect after the server closed is refused ($out)" [ "$out" = ECONNREFUSED ]
    mount_side poll || return 1
    for _ in $(seq 1 600); do [ -e $MNT/fromlib ] && break; sleep 0.1; done
    local got
    got=$(digest < $MNT/fromlib)
    check "library: cat on guest b's mount read guest a's library writer's 2 MiB with the same sha256" [ "$got" = "$(cat "$PAY/2m.sha256")" ]
    barrier lib-sent
    out=$($IVFS unmount $MNT 2>&1) || say "FAIL unmount after the library step: $out"
  fi
}

# The C library between the guests (native/intervmfs.h, no FUSE, no Node):
# intervmfs-cat on guest a writes 2 MiB into a channel that intervmfs-cat on
# guest b reads; then 200 round trips of 64 B through the bench peer's clib:
# ends. 2 MiB is more than a ring holds, so the writer cannot have closed
# before the reader opened (whose end of file would then never come).
clib_across() {
  local CAT=$PKGDIR/build/Release/intervmfs-cat out got
  barrier clib-start
  if [ "$SIDE" = a ]; then
    out=$($CAT -w $IVSHMEM a fromc < "$PAY/2m" 2>&1)
    check "C library: intervmfs-cat on guest a wrote 2 MiB into the channel fromc (${out:-no message})" [ -z "$out" ]
    barrier clib-copied
    out=$($PEER ping clib:a:$IVSHMEM:cping clib:a:$IVSHMEM:cpong 200 64 2>&1)
    check "C library: 200 round trips of 64 B from guest a to guest b ($out)" grep -q '"count":200' <<< "$out"
    say "figure C library guest to guest (notify poll): $out"
  else
    got=$($CAT $IVSHMEM b fromc | digest)
    check "C library: intervmfs-cat on guest b read guest a's 2 MiB to end of file with the same sha256" [ "$got" = "$(cat "$PAY/2m.sha256")" ]
    barrier clib-copied
    out=$($PEER pong clib:b:$IVSHMEM:cping clib:b:$IVSHMEM:cpong 200 64 2>&1)
    # Its one line (the mean time inside its write()s) and nothing on stderr.
    check "C library: guest b answered the 200 round trips ($out)" grep -qx '{"write_ns":[0-9]*}' <<< "$out"
  fi
}

for n in $NOTIFIERS; do round "$n" || break; done
lib_across
clib_across
say "done"
