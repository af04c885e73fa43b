// Conformance: the same client program, run once against a kernel FIFO and
// once against a channel (written on side a, read on side b), must print the
// same thing and exit the same way. The kernel FIFO is the reference for
// every behaviour; docs/CONFORMANCE.md lists these cases and every
// difference that remains, with its reason.
//
// Each scene is a bash script that gets, as $1..$6: the path to write, the
// path to read (the same FIFO for the reference), the folders holding them,
// and a fresh name to create in the writer's folder and the same name seen
// from the reader's. Scripts start readers before writers, since a FIFO's
// open waits for the other end and a channel's does not.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { mkfifo, RunResult, usePair } from '../integration/mounts';

interface Scene {
  title: string;
  script: string;
  /** What both must print (checked on the reference too, so a scene cannot pass by printing nothing). */
  expected: string;
}

const PY = 'python3 -';

const scenes: Scene[] = [
  {
    title: 'a bash `read` loop sees every line (the channel is not seekable, so bash reads byte by byte)',
    script: `n=0; { while read -r l; do n=$((n+1)); done < "$R"; echo $n; } & seq 1000 > "$W"; wait`,
    expected: '1000\n',
  },
  {
    title: 'lseek and pread are refused with ESPIPE',
    script: `${PY} "$R" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
for name, call in (("lseek", lambda: os.lseek(fd, 0, os.SEEK_CUR)), ("pread", lambda: os.pread(fd, 1, 0))):
    try: call(); print(name, "worked")
    except OSError as e: print(name, os.strerror(e.errno))
EOF`,
    expected: 'lseek Illegal seek\npread Illegal seek\n',
  },
  {
    title: 'select: not readable while empty, readable once written, readable at end of file',
    script: `${PY} "$R" "$W" <<'EOF'
import os, select, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[2], os.O_WRONLY)
print("empty:", "readable" if select.select([r], [], [], 0.3)[0] else "timeout")
os.write(w, b"ping")
print("written:", "readable" if select.select([r], [], [], 10)[0] else "timeout", os.read(r, 100))
os.close(w)
print("closed:", "readable" if select.select([r], [], [], 10)[0] else "timeout", os.read(r, 100))
EOF`,
    expected: "empty: timeout\nwritten: readable b'ping'\nclosed: readable b''\n",
  },
  {
    title: 'poll: a writer is not told it may write into a full pipe, and is once the reader drained it',
    script: `${PY} "$R" "$W" <<'EOF'
import os, select, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[2], os.O_WRONLY | os.O_NONBLOCK)
try:
    while True: os.write(w, b"x" * 4096)
except BlockingIOError: pass
p = select.poll(); p.register(w, select.POLLOUT)
print("full:", "writable" if p.poll(300) else "not writable")
try:
    while os.read(r, 65536): pass
except BlockingIOError: pass
print("drained:", "writable" if p.poll(10000) else "not writable")
EOF`,
    expected: 'full: not writable\ndrained: writable\n',
  },
  {
    title: 'epoll reports hang-up once the writer has gone',
    script: `${PY} "$R" "$W" <<'EOF'
import os, select, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[2], os.O_WRONLY)
os.write(w, b"bye"); os.close(w)
ep = select.epoll(); ep.register(r, select.EPOLLIN)
print(os.read(r, 10) if ep.poll(10) else "no event")
ev = ep.poll(10)
print("hup" if ev and ev[0][1] & select.EPOLLHUP else "no hup")
EOF`,
    expected: "b'bye'\nhup\n",
  },
  {
    title: 'a non-blocking open for writing without a reader fails with ENXIO',
    script: `${PY} "$W" <<'EOF'
import os, sys
try: os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK); print("opened")
except OSError as e: print(os.strerror(e.errno))
EOF`,
    expected: 'No such device or address\n',
  },
  {
    title: 'a non-blocking read is end of file without a writer, EAGAIN with one',
    script: `${PY} "$R" "$W" <<'EOF'
import os, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print("no writer:", os.read(r, 10))
w = os.open(sys.argv[2], os.O_WRONLY)
try: print("writer:", os.read(r, 10))
except BlockingIOError: print("writer: EAGAIN")
EOF`,
    expected: "no writer: b''\nwriter: EAGAIN\n",
  },
  {
    title: 'unlink while open: the name goes, the open descriptors keep working',
    script: `${PY} "$R" "$W" <<'EOF'
import os, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
w = os.open(sys.argv[2], os.O_WRONLY)
os.unlink(sys.argv[1])
print("exists:", os.path.exists(sys.argv[1]), os.path.exists(sys.argv[2]))
os.write(w, b"still"); print(os.read(r, 10)); os.close(w); print(os.read(r, 10))
EOF`,
    expected: "exists: False False\nb'still'\nb''\n",
  },
  {
    title: 'mkfifo -m and chmod set the permission bits, seen from the other side',
    script: `mkfifo -m 600 "$NW" && stat -c %a "$NR" && chmod 640 "$NR" && stat -c %a "$NW"`,
    expected: '600\n640\n',
  },
  {
    title: 'chown sets the owner and group, seen from the other side',
    script: `mkfifo "$NW" && chown 1234:4321 "$NW" && stat -c %u:%g "$NR"`,
    expected: '1234:4321\n',
  },
  {
    title: 'touch -d sets the access and modification times',
    script: `touch -d '2001-02-03 04:05:06 UTC' "$W" && stat -c '%X %Y' "$R"`,
    expected: '981173106 981173106\n',
  },
  {
    title: "the folder's modification time moves on mknod and on unlink",
    script: `t0=$(stat -c %.9Y "$DR"); mkfifo "$NW"; t1=$(stat -c %.9Y "$DR"); rm "$NR"; t2=$(stat -c %.9Y "$DW")
[ "$(printf '%s\\n' "$t0" "$t1" "$t2" | sort -g | uniq | wc -l)" = 3 ] && [ "$(printf '%s\\n' "$t0" "$t1" "$t2" | sort -g | head -1)" = "$t0" ] && echo moved`,
    expected: 'moved\n',
  },
  {
    title: 'a write right after the last reader closed fails with EPIPE, 200 times in a row',
    script: `${PY} "$R" "$W" <<'EOF'
import os, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
results = set()
for _ in range(200):
    r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(sys.argv[2], os.O_WRONLY)
    os.write(w, b"one"); os.read(r, 3)
    os.close(r)
    try: os.write(w, b"two"); results.add("written")
    except BrokenPipeError: results.add("EPIPE")
    os.close(w)
print(sorted(results))
EOF`,
    expected: "['EPIPE']\n",
  },
  {
    title: 'a writer is killed by SIGPIPE once its reader is gone (`yes | head`)',
    // head's lines and yes's end are checked, not their order on stdout:
    // head flushes its output at exit, racing the SIGPIPE its exit causes.
    script: `head -n 3 < "$R" > "$DATA.head" 2>/dev/null & yes > "$W"; s=$?; wait; cat "$DATA.head"; rm -f "$DATA.head"; echo "yes ended with $s"`,
    expected: 'y\ny\ny\nyes ended with 141\n',
  },
  {
    title: 'writes of 4096 bytes from 4 writers at once never interleave (PIPE_BUF)',
    script: `${PY} "$R" "$W" <<'EOF'
import os, sys
r = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
# A FIFO's reader sees end of file whenever no writer is open, also before
# the first one opens: a writer is held open until every child has opened
# its own (each says so on a pipe), so the reader waits for their data.
hold = os.open(sys.argv[2], os.O_WRONLY)
ready_r, ready_w = os.pipe()
kids = []
for letter in b"abcd":
    pid = os.fork()
    if pid == 0:
        os.close(hold)
        w = os.open(sys.argv[2], os.O_WRONLY)
        os.write(ready_w, b".")
        for _ in range(250): os.write(w, bytes([letter]) * 4096)
        os._exit(0)
    kids.append(pid)
os.close(ready_w)
ready = b""
while len(ready) < 4: ready += os.read(ready_r, 4)
os.close(hold)
os.set_blocking(r, True)
data = b""
while len(data) < 4 * 250 * 4096:
    chunk = os.read(r, 65536)
    if not chunk: break
    data += chunk
for pid in kids: os.waitpid(pid, 0)
blocks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
print(len(blocks), "records,", sum(1 for b in blocks if b != b[:1] * 4096), "mixed")
EOF`,
    expected: '1000 records, 0 mixed\n',
  },
  {
    title: 'dd with 1 MiB blocks carries 5 MB intact',
    script: `head -c 5000000 /dev/urandom > "$DATA"; { sha256sum < "$R" > "$DATA.got"; } & dd if="$DATA" of="$W" bs=1M status=none; wait
[ "$(sha256sum < "$DATA")" = "$(cat "$DATA.got")" ] && echo intact; rm -f "$DATA" "$DATA.got"`,
    expected: 'intact\n',
  },
  {
    title: 'tar streams a folder through and lists the same entries',
    script: `{ tar t < "$R" | sort | md5sum > "$DATA.got"; } & tar c -C /usr/share/doc/bash . > "$W"; wait
[ "$(tar c -C /usr/share/doc/bash . | tar t | sort | md5sum)" = "$(cat "$DATA.got")" ] && echo same; rm -f "$DATA.got"`,
    expected: 'same\n',
  },
];

describe('conformance: ordinary programs on a channel behave as on a kernel FIFO', function () {
  this.timeout(60_000);
  const { lab, A, B } = usePair('conformance', 'futex', ['--channels', '64', '--data-size', '4M']);
  let fifos: string;

  before(async function () {
    fifos = lab().path('fifos');
    fs.mkdirSync(fifos);
  });

  const run = (script: string, args: string[]): Promise<RunResult> =>
    lab().proc('bash', ['-c', `W=$1 R=$2 DW=$3 DR=$4 NW=$5 NR=$6 DATA=$7\n${script}`, 'bash', ...args], { timeoutMs: 45_000 }).done;

  scenes.forEach((scene, i) => {
    it(scene.title, async () => {
      const name = `c${i}`;
      const fresh = `n${i}`;
      const data = lab().path(`data-${i}`);
      const fifo = path.join(fifos, name);
      execFileSync('mkfifo', [fifo]);
      const ref = await run(scene.script, [fifo, fifo, fifos, fifos, path.join(fifos, fresh), path.join(fifos, fresh), data]);
      expect(ref.stdout, `the kernel FIFO (reference): ${ref.stderr}`).to.equal(scene.expected);
      await mkfifo(lab(), path.join(A().mountpoint, name));
      const got = await run(scene.script, [
        path.join(A().mountpoint, name),
        path.join(B().mountpoint, name),
        A().mountpoint,
        B().mountpoint,
        path.join(A().mountpoint, fresh),
        path.join(B().mountpoint, fresh),
        data,
      ]);
      expect(got.timedOut, 'the channel run finished').to.equal(false);
      expect(got.stdout, `the channel: ${got.stderr}`).to.equal(ref.stdout);
      expect(got.code).to.equal(ref.code);
    });
  });
});
