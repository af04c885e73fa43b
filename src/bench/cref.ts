// The "C reference (FUSE)" channel: two bench/cref.c daemons (side a and
// side b, built by npm ci as intervmfs-cref) over 1 MiB rings in /dev/shm,
// with intervmfs's mount options. It has no FIFO semantics, so it is the
// ceiling FUSE puts on intervmfs on this machine, shown next to it and the
// kernel FIFO in every run; it is not a product and nothing else uses it.
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Channel } from './channels';
import { describeExit, tail } from './failure';
import { mountsUnder, unmountLazily } from './mounts';
import { alive, pauseSync } from './processes';

export const CREF = path.resolve(__dirname, '../../../build/Release/intervmfs-cref');
export const CREF_NAME = 'C reference (FUSE)';
export const CREF_NOTE =
  'a ceiling, not a product: bench/cref.c, a minimal C libfuse 2 filesystem with the mount options of intervmfs over the same kind of ' +
  'shared-memory rings (1 MiB each way), without FIFO semantics (no EOF, EPIPE, atomic writes or many openers)';

/** How long a daemon may take to mount, and to exit after SIGTERM (it looks at its stop flag every 200 ms). */
const MOUNT_MS = 10_000;
const EXIT_MS = 5_000;

interface Daemon {
  side: 'a' | 'b';
  mnt: string;
  log: string;
  child: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Why it could not be started, if so. */
  error?: Error;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const logTail = (d: Daemon) => (fs.existsSync(d.log) ? tail(fs.readFileSync(d.log, 'utf8')) : '');

function describe(d: Daemon): string {
  const out = logTail(d);
  const how = d.error ? `could not be started (${d.error.message})` : d.exit ? describeExit(d.exit.code, d.exit.signal) : 'is gone';
  return `intervmfs-cref side ${d.side} (pid ${d.child.pid}) ${how}${out ? `; its output ends:\n${out}` : ' (no output)'}`;
}

/** Stops one daemon: SIGTERM, wait, SIGKILL; then a lazy unmount if its mount is still there. */
function stop(d: Daemon, dir: string): void {
  const pid = d.child.pid;
  if (pid !== undefined && !d.exit && alive(pid)) {
    d.child.kill('SIGTERM');
    for (const deadline = Date.now() + EXIT_MS; alive(pid) && Date.now() < deadline; ) pauseSync(20);
    if (alive(pid)) d.child.kill('SIGKILL');
    for (const deadline = Date.now() + 1000; alive(pid) && Date.now() < deadline; ) pauseSync(20);
  }
  if (mountsUnder(dir).includes(d.mnt)) {
    const failed = unmountLazily(d.mnt);
    if (failed) process.stderr.write(`intervmfs bench: ${failed}\n`);
  }
}

/** Starts both daemons with `pairs` channels each and resolves once both are mounted. */
export async function cReference(dir: string, pairs: number): Promise<Channel> {
  if (!fs.existsSync(CREF)) throw new Error(`the C reference is not built (${CREF}); run npm ci`);
  const shm = fs.mkdtempSync('/dev/shm/intervmfs-bench-cref-');
  const daemons: Daemon[] = [];
  const close = () => {
    for (const d of daemons) stop(d, dir);
    fs.rmSync(shm, { recursive: true, force: true });
  };
  try {
    for (const side of ['a', 'b'] as const) {
      const mnt = path.join(dir, `cref-${side}`);
      const log = `${mnt}.log`;
      fs.mkdirSync(mnt);
      const fd = fs.openSync(log, 'w');
      try {
        // detached: a session of its own, as every intervmfs daemon has (it
        // daemonizes). With the kernel's autogroup scheduling a session is a
        // scheduling group: a reference left in the bench's session shared one
        // group with the peers and ran streams up to 1.5x faster than the same
        // daemon in its own (docs/PERFORMANCE.md, "The engine against the C reference").
        const child = spawn(CREF, [mnt, '--shm', shm, '--side', side, '--channels', String(pairs)], { stdio: ['ignore', fd, fd], detached: true });
        const d: Daemon = { side, mnt, log, child };
        child.on('exit', (code, signal) => (d.exit = { code, signal }));
        child.on('error', (err) => (d.error = err));
        daemons.push(d);
      } finally {
        fs.closeSync(fd);
      }
    }
    for (const d of daemons) {
      for (const deadline = Date.now() + MOUNT_MS; !mountsUnder(dir).includes(d.mnt); await pause(20)) {
        if (d.exit || d.error) throw new Error(`${describe(d)} before it mounted ${d.mnt}`);
        if (Date.now() > deadline) throw new Error(`intervmfs-cref side ${d.side} did not mount ${d.mnt} within ${MOUNT_MS} ms; its output:\n${logTail(d)}`);
      }
    }
  } catch (err) {
    close();
    throw err;
  }
  return {
    name: CREF_NAME,
    note: CREF_NOTE,
    // One file per pair on each side: side a's chan<i> writes a -> b and reads b -> a.
    pair: (i) => {
      const a = path.join(dir, 'cref-a', `chan${i}`);
      const b = path.join(dir, 'cref-b', `chan${i}`);
      return { sendData: a, sendAck: a, recvData: b, recvAck: b };
    },
    daemons: () => daemons.flatMap((d) => (d.child.pid === undefined ? [] : [{ side: d.side, pid: d.child.pid }])),
    diagnose: () => {
      const gone = daemons.filter((d) => d.exit || d.error || d.child.pid === undefined || !alive(d.child.pid));
      return gone.length > 0 ? gone.map((d) => `  ${describe(d)}`).join('\n') : undefined;
    },
    close,
  };
}
