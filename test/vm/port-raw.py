#!/usr/bin/env python3
"""The virtio-serial port alone, without intervmfs: the floor under the port
transport's figures in `bench --vm` (test/vm/guest-bench.sh runs it once,
before the port carries anything else). One guest runs `ping` or `send`,
the other `pong` or `sink`, on the port QEMU joined between them:

  port-raw.py PORT ping COUNT SIZE    COUNT round trips of SIZE bytes
  port-raw.py PORT pong COUNT SIZE    answers them
  port-raw.py PORT send BYTES         BYTES in 32 KiB writes, then waits for a 1-byte ack
  port-raw.py PORT sink BYTES         reads BYTES, then acks

ping and send print one compact JSON line in the bench peer's units (ns)."""
import json
import os
import sys
import time

CHUNK = 32768  # what the guest's virtio_console takes per write(2)


def read_exactly(fd, n):
    parts, got = [], 0
    while got < n:
        b = os.read(fd, min(n - got, 1 << 20))
        if not b:
            raise SystemExit(f"port-raw: the port ended after {got} of {n} bytes")
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:CHUNK]):]


def main():
    port, mode, *args = sys.argv[1:]
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    if mode in ("ping", "pong"):
        count, size = int(args[0]), int(args[1])
        msg = b"p" * size
        times = []
        for _ in range(count):
            if mode == "ping":
                t0 = time.perf_counter_ns()
                write_all(fd, msg)
                read_exactly(fd, size)
                times.append(time.perf_counter_ns() - t0)
            else:
                write_all(fd, read_exactly(fd, size))
        if mode == "ping":
            times.sort()
            print(json.dumps({"p50": times[len(times) // 2], "p99": times[min(len(times) - 1, len(times) * 99 // 100)], "count": count}, separators=(",", ":")))
    elif mode == "send":
        total = int(args[0])
        block = os.urandom(CHUNK)
        t0 = time.perf_counter_ns()
        left = total
        while left > 0:
            write_all(fd, block[: min(left, CHUNK)])
            left -= min(left, CHUNK)
        read_exactly(fd, 1)
        print(json.dumps({"ns": time.perf_counter_ns() - t0, "bytes": total}, separators=(",", ":")))
    elif mode == "sink":
        total = int(args[0])
        while total > 0:
            total -= len(read_exactly(fd, min(total, 1 << 20)))
        write_all(fd, b"k")
    else:
        raise SystemExit(f"port-raw: unknown mode {mode}")
    os.close(fd)


main()
