#!/usr/bin/env bash
# `npm run demo`: the README session, run for you. Formats the default
# memsection set in memsections/, mounts side a on mount/a and side b on
# mount/b, moves data both ways, shows status and unmounts. Then three peers
# on one area region (memsections/areas): vm1 and vm2 on area 1, vm1 and vm3
# on area 2, all three on area 3, a line between every two of area 3, and
# the registry. It prints each command before running it, and unmounts
# whatever it mounted however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ivfs() { node bin/intervmfs.js "$@"; }
run() { printf '\n$ %s\n' "$*"; "$@"; }
run_ivfs() { printf '\n$ npx intervmfs %s\n' "$*"; ivfs "$@"; }

cleanup() {
  set +e
  for m in mount/a mount/b mount/vm1-a1 mount/vm2-a1 mount/vm1-a2 mount/vm3-a2 mount/vm1-a3 mount/vm2-a3 mount/vm3-a3; do
    grep -qs " $PWD/$m " /proc/mounts && ivfs unmount --force "$m" >/dev/null
  done
  rm -f mount/big.bin mount/line.*
}
trap cleanup EXIT

if grep -qs " $PWD/mount/[ab] " /proc/mounts; then
  echo "mount/a or mount/b is already mounted; run: npx intervmfs unmount mount/a (and mount/b)" >&2
  exit 1
fi

echo "== intervmfs demo: two peers over the memsections in memsections/"
run_ivfs format --force
run_ivfs mount mount/a --side a
run_ivfs mount mount/b --side b
run mknod mount/a/chat p
run ls -l mount/b

printf '\n$ cat mount/b/chat &   # waits for data\n'
cat mount/b/chat > mount/received &
reader=$!
printf '\n$ echo "hello from side a" > mount/a/chat\n'
echo "hello from side a" > mount/a/chat
wait $reader
echo "side b received: $(cat mount/received)"
rm -f mount/received

printf '\n# 256 MiB the other way, B -> A, with digests compared\n'
head -c 256M /dev/urandom > mount/big.bin
sha256sum mount/big.bin | sed 's/ .*/  sent/'
sha256sum < mount/a/chat | sed 's/ .*/  received/' > mount/received.sum &
reader=$!
run dd if=mount/big.bin of=mount/b/chat bs=1M status=progress
wait $reader
cat mount/received.sum
sent=$(sha256sum < mount/big.bin | cut -d' ' -f1)
received=$(cut -d' ' -f1 mount/received.sum)
rm -f mount/received.sum
[ "$sent" = "$received" ] && echo "digests match" || { echo "DIGESTS DIFFER" >&2; exit 1; }

run_ivfs status
run rm mount/b/chat
run_ivfs unmount mount/a
run_ivfs unmount mount/b

echo
echo "== three peers on one area region: area 1 for vm1 and vm2, area 2 for vm1 and vm3, area 3 for all three"
run_ivfs format --areas --memsections memsections/areas --size 64M --force
for spec in 1:vm1 1:vm2 2:vm1 2:vm3 3:vm1 3:vm2 3:vm3; do
  area=${spec%%:*} peer=${spec#*:}
  run_ivfs mount "mount/$peer-a$area" --memsections memsections/areas --area "$area" --peer "$peer" --area-size 8M --pair-size 1M
done
run ls mount/vm1-a3 mount/vm2-a3 mount/vm3-a3
# In area 3 every peer makes a channel for each other and sends a line on it.
for from in vm1 vm2 vm3; do
  for to in vm1 vm2 vm3; do [ "$from" = "$to" ] || mknod "mount/$from-a3/$to/from-$from" p; done
done
for from in vm1 vm2 vm3; do
  for to in vm1 vm2 vm3; do
    [ "$from" = "$to" ] && continue
    cat "mount/$to-a3/$from/from-$from" > "mount/line.$from.$to" &
    echo "hello $to, this is $from" > "mount/$from-a3/$to/from-$from"
  done
done
wait
for f in mount/line.*; do echo "${f#mount/line.}: $(cat "$f")" | sed 's/\./ -> /'; done
rm -f mount/line.*
run ls mount/vm3-a3/vm1   # vm3 sees only what it shares with vm1, not vm1's channels with vm2
run_ivfs status --memsections memsections/areas
for spec in 1:vm1 1:vm2 2:vm1 2:vm3 3:vm1 3:vm2 3:vm3; do
  run_ivfs unmount "mount/${spec#*:}-a${spec%%:*}"
done
echo
echo "== demo finished: nothing is left mounted"
