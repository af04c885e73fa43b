#!/usr/bin/env bash
# fifo(7) across peers: EOF, EPIPE, blocking before the first writer,
# O_NONBLOCK and O_RDWR.
source "$(dirname "$0")/lib.sh"
setup

mknod "$A/eof" p
timeout 10 cat "$B/eof" > "$WORK/eof.out" &
reader=$!
sleep 1
check "a reader waits while no writer has attached yet" kill -0 $reader
echo hello > "$A/eof"
wait $reader; rc=$?
check "the reader gets the data, then EOF once the writer closed" [ $rc -eq 0 -a "$(cat "$WORK/eof.out")" = hello ]

mknod "$B/pipe" p
head -c 10 "$A/pipe" > /dev/null &
timeout 10 dd if=/dev/zero of="$B/pipe" bs=64K status=none; rc=$?
check "a writer whose reader closed is killed by SIGPIPE (status $rc)" [ $rc -eq 141 ]
# A channel of its own: "$B/pipe" still holds the zeros nobody read, so a new
# reader there could take 10 of them and leave before dd opens.
mknod "$B/pipe2" p
head -c 10 "$A/pipe2" > /dev/null &
(trap '' PIPE; exec timeout 10 dd if=/dev/zero of="$B/pipe2" bs=64K status=none) 2> "$WORK/epipe.err"
check "with SIGPIPE ignored the write fails with EPIPE" grep -q 'Broken pipe' "$WORK/epipe.err"

mknod "$A/nb" p
exec 3> "$A/nb"
dd iflag=nonblock if="$B/nb" of=/dev/null status=none 2> "$WORK/nb.err"
check "O_NONBLOCK read of an empty channel gives EAGAIN" grep -q 'Resource temporarily unavailable' "$WORK/nb.err"
exec 3>&-

mknod "$A/duplex" p
exec 5<> "$A/duplex" 6<> "$B/duplex"
echo ping >&5; read -r -t 5 got_b <&6
echo pong >&6; read -r -t 5 got_a <&5
exec 5>&- 6>&-
check "O_RDWR gives a duplex stream on one descriptor per side" [ "${got_b:-}" = ping -a "${got_a:-}" = pong ]

rm "$B/eof"
check "unlink on side b removes the channel on side a" [ ! -e "$A/eof" ]
finish
