#!/usr/bin/env bash
# The port transport's own outcomes (mount --port, two private sets joined
# by a Unix socket): a peer killed with SIGKILL ends the other side's reader
# with end of file as soon as its socket closes; a remount of it finds the
# channels and picks up the bytes written meanwhile; a stranger on the
# socket who speaks the wire but lies is refused in side a's log by name,
# and side a's mount goes on serving.
TRANSPORT=port
source "$(dirname "$0")/lib.sh"
setup

side_pid() {  # side_pid SET INDEX: the pid a side's copy records for that side
  $IVFS status --memsections "$1" --json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).sides[process.argv[1]].pid)' "$2"
}

# 1. kill -9 of side b's daemon, with a reader on side a waiting for b's writer.
mknod "$A/held" p
timeout 20 cat "$A/held" > "$WORK/held.out" &
reader=$!
exec 3> "$B/held"
echo "before the kill" >&3
for _ in $(seq 1 50); do [ -s "$WORK/held.out" ] && break; sleep 0.1; done
pid_b=$(side_pid "$MS_B" 1)
t0=$(now_ms)
kill -KILL "$pid_b"
wait $reader; rc=$?
ms=$(( $(now_ms) - t0 ))
exec 3>&-
check "side b's daemon killed: the reader on side a ends with end of file (status $rc) after the bytes written before, in ${ms} ms" \
  [ $rc -eq 0 -a "$(cat "$WORK/held.out")" = "before the kill" -a $ms -lt 2000 ]

# 2. Side a writes while b is away; b's mount comes back on its set.
echo "written while b was away" > "$WORK/away.in"
timeout 20 dd if="$WORK/away.in" of="$A/held" status=none 2>/dev/null &
writer=$!
umount -l "$B" 2>/dev/null
$IVFS mount "$B" --memsections "$MS_B" --side b --notify "$NOTIFY" --port "unix:$WORK/port.sock" --log "$WORK/b2.log" >/dev/null
check "side b mounts again on its copy and lists the channel made before" [ -e "$B/held" ]
got=$(timeout 20 cat "$B/held")
wait $writer
check "the line side a wrote while b was away reaches b's new reader" [ "$got" = "written while b was away" ]

# 3. A stranger on the socket: a valid HELLO, then DATA for a slot the set
# does not have. Side a refuses it by name and keeps serving.
$IVFS unmount "$B" > /dev/null
python3 - "$WORK/port.sock" > "$WORK/stranger.out" 2>&1 <<'EOF'
import os, socket, struct, sys, time
def fnv1a(b):
    x = 0xcbf29ce484222325
    for c in b:
        x = ((x ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return x
s = socket.socket(socket.AF_UNIX)
for _ in range(50):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
hello = s.recv(104)
assert len(hello) == 104 and hello[8:16] == b"IIVPORT1", hello[:16]
_, _, _, side, capacity, data_size, ring_size, nonce = struct.unpack_from("<QIIIIQQQ", hello, 8)
body = struct.pack("<QIIIIQQQQII24s", 0x3154524f50564949, 1, 3, 1, capacity, data_size, ring_size, 12345, nonce, 65536, 0, b"stranger")
s.sendall(struct.pack("<HHI", 1, 0, 96) + body + struct.pack("<Q", fnv1a(body)))
time.sleep(0.5)
s.sendall(struct.pack("<HHI", 5, 0, 24 + 4) + struct.pack("<IIQII", capacity + 35, 1, 0, 4, 0) + b"evil")
time.sleep(1)
print("sent")
EOF
for _ in $(seq 1 50); do grep -q 'protocol error' "$WORK/a.log" && break; sleep 0.1; done
check "side a's log names the stranger's lie" grep -q "port: protocol error from side b: DATA for slot $(( 64 + 35 )), beyond capacity 64" "$WORK/a.log"
mknod "$A/still" p
check "side a's mount still serves (mknod, ls)" [ -e "$A/still" ]

finish
