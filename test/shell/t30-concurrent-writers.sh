#!/usr/bin/env bash
# 4 writers on side a write 4096-byte records into one channel at the same
# time; the reader on side b gets every record whole (PIPE_BUF atomicity).
source "$(dirname "$0")/lib.sh"
setup

RECORDS=512   # per writer: 2 MiB each, 8 MiB in all, several times the ring
mknod "$A/records" p
for w in A B C D; do
  # One record: 4095 copies of the writer's letter and a newline.
  yes "$(head -c 4095 /dev/zero | tr '\0' "$w")" | head -n $RECORDS > "$WORK/stream.$w"
done

cat "$B/records" > "$WORK/received" &
reader=$!
# Hold a writer open so that the reader's EOF waits for all four writers.
exec 3> "$A/records"
writers=()
for w in A B C D; do
  dd if="$WORK/stream.$w" of="$A/records" bs=4096 status=none &
  writers+=($!)
done
wait "${writers[@]}"
exec 3>&-
wait $reader

lines=$(wc -l < "$WORK/received")
# A whole record is one line of 4095 equal letters.
torn=$(awk '!/^(A+|B+|C+|D+)$/ || length($0) != 4095' "$WORK/received" | wc -l)
say "$lines records received, $torn torn"
check "reader gets $((4 * RECORDS)) records" [ "$lines" -eq $((4 * RECORDS)) ]
check "no record is torn or interleaved" [ "$torn" -eq 0 ]
for w in A B C D; do
  check "all $RECORDS records of writer $w arrive" [ "$(grep -c "^$w" "$WORK/received")" -eq $RECORDS ]
done
finish
