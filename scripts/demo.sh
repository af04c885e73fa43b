#!/usr/bin/env bash
# `npm run demo`: the README session, run for you. Formats the default
# memsection set in memsections/, mounts side a on mount/a and side b on
# mount/b, moves data both ways, shows status and unmounts. It prints each
# command before running it, and unmounts whatever it mounted however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ivfs() { node bin/intervmfs.js "$@"; }
run() { printf '\n$ %s\n' "$*"; "$@"; }
run_ivfs() { printf '\n$ npx intervmfs %s\n' "$*"; ivfs "$@"; }

cleanup() {
  set +e
  for m in mount/a mount/b; do
    grep -qs " $PWD/$m " /proc/mounts && ivfs unmount --force "$m" >/dev/null
  done
  rm -f mount/big.bin
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
echo "== demo finished: nothing is left mounted"
