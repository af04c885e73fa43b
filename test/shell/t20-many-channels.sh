#!/usr/bin/env bash
# 16 channels at once, half of them a->b and half b->a, 2 MiB each: every one
# arrives intact, so channels never mix or lose each other's bytes.
source "$(dirname "$0")/lib.sh"
setup

CHANNELS=16
head -c 2M /dev/urandom > "$WORK/payload"
want=$(digest "$WORK/payload")
pids=()
for i in $(seq 1 $CHANNELS); do
  if [ $((i % 2)) -eq 0 ]; then from=$A to=$B; else from=$B to=$A; fi
  mknod "$from/ch$i" p
  (sha256sum < "$to/ch$i" | cut -d' ' -f1 > "$WORK/ch$i.sum") &
  pids+=($!)
  (dd if="$WORK/payload" of="$from/ch$i" bs=64K status=none) &
  pids+=($!)
done
wait "${pids[@]}"

intact=0
for i in $(seq 1 $CHANNELS); do
  [ "$(cat "$WORK/ch$i.sum" 2>/dev/null)" = "$want" ] && intact=$((intact + 1))
done
say "$intact of $CHANNELS channels intact"
check "$CHANNELS channels at once, both directions, all arrive intact" [ "$intact" -eq "$CHANNELS" ]
check "all $CHANNELS channels are listed on both sides" \
  [ "$(ls "$A" | grep -c '^ch')" -eq "$CHANNELS" -a "$(ls "$B" | grep -c '^ch')" -eq "$CHANNELS" ]
finish
