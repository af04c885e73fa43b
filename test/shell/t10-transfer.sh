#!/usr/bin/env bash
# 4 KiB, 2 MiB and 1 GiB in each direction arrive with the digest they left
# with; the 1 GiB transfers are timed next to a kernel FIFO doing the same.
source "$(dirname "$0")/lib.sh"
setup

PAYLOADS=${PAYLOADS:-$WORK/payloads}
mkdir -p "$PAYLOADS"
for size in 4K 2M 1G; do
  [ -s "$PAYLOADS/$size.bin" ] || head -c "$size" /dev/urandom > "$PAYLOADS/$size.bin"
done

# send FROM_MOUNT TO_MOUNT NAME FILE: mknod on the sending side, read on the
# other, write with dd; prints the milliseconds from first write to digest.
send() {
  local from=$1 to=$2 name=$3 file=$4
  mknod "$from/$name" p || return 1
  sha256sum < "$to/$name" | cut -d' ' -f1 > "$WORK/$name.sum" &
  local reader=$! t0
  t0=$(now_ms)
  dd if="$file" of="$from/$name" bs=1M status=none || return 1
  wait $reader || return 1
  echo $(( $(now_ms) - t0 )) > "$WORK/$name.ms"
  [ "$(cat "$WORK/$name.sum")" = "$(digest "$file")" ]
}

for size in 4K 2M 1G; do
  check "$size a->b arrives with the same sha256" send "$A" "$B" "ab$size" "$PAYLOADS/$size.bin"
  check "$size b->a arrives with the same sha256" send "$B" "$A" "ba$size" "$PAYLOADS/$size.bin"
done

# The same 1 GiB through a kernel named pipe, measured the same way.
fifo_ms() {
  mkfifo "$WORK/kernel.fifo"
  sha256sum < "$WORK/kernel.fifo" > /dev/null &
  local reader=$! t0
  t0=$(now_ms)
  dd if="$PAYLOADS/1G.bin" of="$WORK/kernel.fifo" bs=1M status=none
  wait $reader
  echo $(( $(now_ms) - t0 ))
  rm -f "$WORK/kernel.fifo"
}
kernel=$(fifo_ms)
ab=$(cat "$WORK/ab1G.ms" 2>/dev/null || echo 0)
ba=$(cat "$WORK/ba1G.ms" 2>/dev/null || echo 0)
say "1 GiB with dd bs=1M into sha256sum: a->b ${ab} ms, b->a ${ba} ms, kernel FIFO ${kernel} ms" \
    "(ratio $(awk -v x="$ab" -v k="$kernel" 'BEGIN { printf "%.2f", x / k }')x)"
finish
