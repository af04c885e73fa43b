// The channels the benchmark compares, each giving the paths (or socket
// addresses) that the peer program opens for pair i. Every channel is used
// through the same program, so each is measured the same way.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { tail } from './failure';
import { alive } from './processes';

export interface Endpoints {
  sendData: string;
  sendAck: string;
  recvData: string;
  recvAck: string;
  /** Environment for both peer processes (the C peer's INTERVMFS_PEER_SPIN_US). */
  env?: Record<string, string>;
  /** The CPU both peer processes are pinned to (cpus.ts), or none: where the scheduler puts them. */
  cpu?: number;
}

type Side = 'a' | 'b';

export interface Daemon {
  side: Side;
  pid: number;
}

export interface Channel {
  name: string;
  /** What the reader of the results must know about this channel (printed under the table, kept in the JSON). */
  note?: string;
  /** Pair i's endpoints; called once per run (sockets get fresh addresses). */
  pair(i: number): Endpoints;
  /** How many pairs may run at once (default: all); the N-channels rows skip larger N. */
  maxPairsAtOnce?: number;
  /** The daemons whose memory the report follows. */
  daemons(): Daemon[];
  /** After a failure: what is wrong with the channel's daemons (gone, and what they logged), if anything. */
  diagnose?(): string | undefined;
  /** Synchronous (it also runs from process 'exit'); leaves nothing mounted or running. */
  close(): void;
}

/**
 * The first of the TCP pairs' listening ports, each pair the next: below the
 * kernel's ephemeral range (ip_local_port_range, 32768–60999 by default). A
 * port inside it can be taken meanwhile as the local port of another pair's
 * outgoing connection, and the receiver's bind then fails (EADDRINUSE), as a
 * round of 16 pairs at once once did. A run uses a few hundred ports.
 */
function firstPort(): number {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    /* not Linux, or no procfs: the default range */
  }
  const top = Math.max(2024, low) - 1000;
  return Math.max(1024, top - 10000) + Math.floor(Math.random() * 5000);
}
let nextPort = firstPort();

export function kernelFifo(dir: string, pairs: number): Channel {
  for (let i = 0; i < pairs; i++) {
    execFileSync('mkfifo', [path.join(dir, `fifo-d${i}`), path.join(dir, `fifo-k${i}`)]);
  }
  return {
    name: 'kernel FIFO',
    pair: (i) => {
      const d = path.join(dir, `fifo-d${i}`);
      const k = path.join(dir, `fifo-k${i}`);
      return { sendData: d, sendAck: k, recvData: d, recvAck: k };
    },
    daemons: () => [],
    close: () => undefined,
  };
}

export function unixSocket(dir: string): Channel {
  let seq = 0;
  return {
    name: 'Unix socket',
    pair: (i) => {
      const s = `unix:${path.join(dir, `u${i}-${seq++}.sock`)}`;
      return { sendData: s, sendAck: '-', recvData: s, recvAck: '-' };
    },
    daemons: () => [],
    close: () => undefined,
  };
}

/** A Unix socket between two Node programs (node:net in lib-peer.ts): the yardstick of the library's columns. */
export function nodeUnixSocket(dir: string): Channel {
  let seq = 0;
  return {
    name: 'Unix socket (Node)',
    note: 'both ends Node programs using node:net, as lib-peer.ts drives the library',
    pair: (i) => {
      const s = `nodeunix:${path.join(dir, `n${i}-${seq++}.sock`)}`;
      return { sendData: s, sendAck: '-', recvData: s, recvAck: '-' };
    },
    daemons: () => [],
    close: () => undefined,
  };
}

export function tcpLoopback(): Channel {
  return {
    name: 'TCP loopback',
    pair: () => {
      const s = `tcp:127.0.0.1:${nextPort++}`;
      return { sendData: s, sendAck: '-', recvData: s, recvAck: '-' };
    },
    daemons: () => [],
    close: () => undefined,
  };
}

/** A set in /dev/shm for `pairs` pairs of channels, 1 MiB rings like the default format; and its removal. */
function benchSet(cli: (args: string[]) => string, tag: string, pairs: number): { set: string; remove(): void } {
  const shm = fs.mkdtempSync(`/dev/shm/intervmfs-bench-${tag}-`);
  const set = path.join(shm, 'ms');
  const remove = () => fs.rmSync(shm, { recursive: true, force: true });
  try {
    cli(['format', '--memsections', set, '--channels', String(2 * pairs), '--data-size', `${2 * pairs}M`]);
  } catch (err) {
    remove();
    throw err;
  }
  return { set, remove };
}

// A library end (lib-peer.ts, or the C peer on the C library) claims its
// side for as long as it runs, so one peer process per side at a time: one
// pair at once.
const ONE_PAIR = 'one pair at a time, as a side holds one program';
const LIBRARY_NOTE = `each library end is a Node process using openChannel (src/lib), with no FUSE; ${ONE_PAIR}`;

/** Both ends on the library (src/lib), side a and side b of one set: no mount, no daemon. */
export function library(cli: (args: string[]) => string, pairs: number): Channel {
  return inProcess(cli, pairs, 'library', 'lib', LIBRARY_NOTE);
}

/**
 * Both ends on the C library (native/intervmfs.h), through the C peer's
 * clib: endpoints: no mount, no daemon, no Node; with `spinUs`, a blocked
 * call spins that long before it sleeps (ivfs_options.spin_us).
 */
export function cLibrary(cli: (args: string[]) => string, pairs: number, spinUs = 0): Channel {
  const name = spinUs ? `C library spin ${spinUs} µs` : 'C library';
  const note = `each end is the C peer on the C library (native/intervmfs.h), with no FUSE and no Node; ${ONE_PAIR}`;
  return inProcess(cli, pairs, name, 'clib', note, spinUs ? { INTERVMFS_PEER_SPIN_US: String(spinUs) } : undefined);
}

function inProcess(cli: (args: string[]) => string, pairs: number, name: string, scheme: 'lib' | 'clib', note: string, env?: Record<string, string>): Channel {
  const { set, remove } = benchSet(cli, scheme, pairs);
  const end = (side: string, channel: string) => `${scheme}:${side}:${set}:${channel}`;
  return {
    name,
    note,
    maxPairsAtOnce: 1,
    pair: (i) => ({ sendData: end('a', `d${i}`), sendAck: end('a', `k${i}`), recvData: end('b', `d${i}`), recvAck: end('b', `k${i}`), env }),
    daemons: () => [],
    close: remove,
  };
}

/** The library (src/lib) sends on side a; a mount of side b (futex) receives through its files. */
export function libraryToMount(cli: (args: string[]) => string, dir: string, pairs: number): Channel {
  const m = mountSides(cli, dir, 'libmnt', pairs, ['b'], 'futex');
  const { set } = m;
  const b = m.at('b');
  return {
    name: 'library ↔ mount',
    note: `${LIBRARY_NOTE}; the mount's end is the C peer on side b's files`,
    maxPairsAtOnce: 1,
    pair: (i) => ({ sendData: `lib:a:${set}:d${i}`, sendAck: `lib:a:${set}:k${i}`, recvData: path.join(b, `d${i}`), recvAck: path.join(b, `k${i}`) }),
    daemons: () => m.daemons,
    diagnose: m.diagnose,
    close: m.close,
  };
}

interface MountedSides {
  set: string;
  /** Where `side` is mounted. */
  at(side: Side): string;
  daemons: Daemon[];
  diagnose(): string | undefined;
  /** Unmounts what was mounted, then removes the set. */
  close(): void;
}

/**
 * A bench set for `pairs` pairs (benchSet) with `sides` of it mounted at
 * DIR/TAG-SIDE with `notify` (and `extra` mount options), and the channels
 * d<i> and k<i> made on the first; on any failure it unmounts what it
 * mounted and removes the set before it throws.
 */
function mountSides(cli: (args: string[]) => string, dir: string, tag: string, pairs: number, sides: Side[], notify: string, extra: string[] = []): MountedSides {
  const { set, remove } = benchSet(cli, tag, pairs);
  const at = (side: Side) => path.join(dir, `${tag}-${side}`);
  const mounted: string[] = [];
  const close = () => {
    for (const mnt of mounted.splice(0)) {
      try {
        cli(['unmount', '--force', mnt]);
      } catch {
        /* already gone */
      }
    }
    remove();
  };
  try {
    for (const side of sides) {
      const mnt = at(side);
      fs.mkdirSync(mnt);
      cli(['mount', mnt, '--memsections', set, '--side', side, '--notify', notify, '--log', `${mnt}.log`, ...extra]);
      mounted.push(mnt);
    }
    for (let i = 0; i < pairs; i++) for (const name of [`d${i}`, `k${i}`]) execFileSync('mknod', [path.join(at(sides[0]), name), 'p']);
  } catch (err) {
    close();
    throw err;
  }
  const held = (JSON.parse(cli(['status', '--json', '--memsections', set])) as { sides: { pid: number }[] }).sides;
  const daemons = sides.map((side) => ({ side, pid: held[side === 'a' ? 0 : 1].pid }));
  const diagnose = () => {
    const gone = daemons.flatMap(({ side, pid }) => {
      if (alive(pid)) return [];
      const log = `${at(side)}.log`;
      const logged = fs.existsSync(log) ? tail(fs.readFileSync(log, 'utf8')) : '';
      return [`  the side ${side} daemon (pid ${pid}) is gone${logged ? `; its log ${log} ends:\n${logged}` : ''}`];
    });
    return gone.length > 0 ? gone.join('\n') : undefined;
  };
  return { set, at, daemons, diagnose, close };
}

/**
 * Two intervmfs mounts over one set in /dev/shm (in memory, as an ivshmem
 * region is); pair i sends a->b on d<i> and acknowledges b->a on k<i>.
 */
export function intervmfs(cli: (args: string[]) => string, dir: string, notify: 'futex' | 'poll', pairs: number, spinUs = 0): Channel {
  const tag = spinUs ? `${notify}-spin${spinUs}` : notify;
  const m = mountSides(cli, dir, tag, pairs, ['a', 'b'], notify, spinUs ? ['--spin-us', String(spinUs)] : []);
  const [a, b] = [m.at('a'), m.at('b')];
  return {
    name: spinUs ? `intervmfs ${notify} spin ${spinUs} µs` : `intervmfs ${notify}`,
    pair: (i) => ({
      sendData: path.join(a, `d${i}`),
      sendAck: path.join(a, `k${i}`),
      recvData: path.join(b, `d${i}`),
      recvAck: path.join(b, `k${i}`),
    }),
    daemons: () => m.daemons,
    diagnose: m.diagnose,
    close: m.close,
  };
}
