#!/usr/bin/env python3
"""Plays two QEMU ivshmem-doorbell devices against a doorbell server, as the
protocol in QEMU's docs/specs/ivshmem-spec.rst describes them, and prints
what each was told as JSON for 10.doorbell-server.test.ts to judge:
  A connects; B connects; B rings A through the eventfd it got for A;
  B disconnects. Usage: ivshmem-client.py SOCKET"""
import json
import os
import select
import socket
import struct
import sys


def messages(sock, quiet_s=0.5):
    """Every message that arrives until the server is quiet for quiet_s."""
    out = []
    while select.select([sock], [], [], quiet_s)[0]:
        data, fds, _, _ = socket.recv_fds(sock, 8, 1)
        if len(data) < 8:
            break
        (value,) = struct.unpack('<q', data)
        out.append({'value': value, 'fd': fds[0] if fds else None})
    return out


def describe(msgs):
    return [{'value': m['value'], 'fd': m['fd'] is not None,
             'ino': os.fstat(m['fd']).st_ino if m['fd'] is not None else None} for m in msgs]


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


path = sys.argv[1]
a = connect(path)
a_first = messages(a)
b = connect(path)
b_first = messages(b)
a_after_b = messages(a)

# A's own eventfd is the last fd A got with its own id; B rings A through
# the fd B got with A's id (what QEMU does on a Doorbell write).
a_id = a_first[1]['value']
a_own = [m['fd'] for m in a_first if m['value'] == a_id and m['fd'] is not None][-1]
b_to_a = [m['fd'] for m in b_first if m['value'] == a_id and m['fd'] is not None][0]
os.write(b_to_a, struct.pack('=Q', 1))
rung = bool(select.select([a_own], [], [], 2)[0])

b.close()
a_after_b_left = messages(a)
print(json.dumps({'a_first': describe(a_first), 'b_first': describe(b_first), 'a_after_b': describe(a_after_b),
                  'b_rings_a': rung, 'a_after_b_left': describe(a_after_b_left)}))
