// `intervmfs bench` / `npm run bench`: every workload on every channel, in
// rounds (--rounds, default 5) interleaved across the channels because the
// machine is shared and noisy; a table of each figure's median over the rounds
// with its lowest and highest round and its ratio to the kernel FIFO, a JSON
// file with every round's value and the machine description, and an SVG chart. The C reference
// (bench/cref.c) runs beside them as the ceiling FUSE sets. A run that fails
// says which stage on which channel failed and why, and every path out of it
// stops the peers and daemons and leaves nothing mounted.
import { execFileSync } from 'child_process';
import { SingleBar } from 'cli-progress';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { allowedCpus, pairCpu } from './cpus';
import { Channel, cLibrary, Endpoints, intervmfs, kernelFifo, library, libraryToMount, nodeUnixSocket, tcpLoopback, unixSocket } from './channels';
import { againstReference } from './against';
import { cReference, CREF_NAME } from './cref';
import { BenchFailure, stage } from './failure';
import { mountsUnder, unmountLazily } from './mounts';
import { pingPong, PEER, stopPeers, transfer } from './peer';
import { roundOrders } from './order';
import { makePlan } from './plan';
import { BASELINE, REFERENCE, REFERENCE_NS, RoundBook } from './results';
import { median } from './stats';
import { renderSvg } from './svg';
import { renderTable } from './table';

export interface BenchOptions {
  quick: boolean;
  out: string;
  /** The spin of the spin column (mount --spin-us). */
  spinUs: number;
  /** How many rounds (default: DEFAULT_ROUNDS, with --quick QUICK_ROUNDS). */
  rounds?: number;
  /** Only these columns (names as in the table, any case), and the kernel FIFO. */
  only?: string[];
  /** The seed of the rounds' channel orders (default: from the clock); bench.json records it. */
  seed?: number;
  /** Pin each pair's two peer processes to one CPU (cpus.ts; default true); false leaves them to the scheduler. */
  pin?: boolean;
}

/** The setups --only names, in column order, with the kernel FIFO; an unknown name is an error listing the known ones. */
export function selectColumns<T>(setups: [string, T][], only?: string[]): [string, T][] {
  if (!only || only.length === 0) return setups;
  const known = new Map(setups.map(([name]) => [name.toLowerCase(), name]));
  const unknown = only.filter((n) => !known.has(n.trim().toLowerCase()));
  if (unknown.length > 0) {
    throw new BenchFailure(`bench --only: no column named ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the columns are: ${setups.map(([n]) => n).join(', ')}`);
  }
  const wanted = new Set([BASELINE.toLowerCase(), ...only.map((n) => n.trim().toLowerCase())]);
  return setups.filter(([name]) => wanted.has(name.toLowerCase()));
}

const CLI = path.resolve(__dirname, '../../../bin/intervmfs.js');

/**
 * Starts `k` transfers whose senders begin writing at one moment, not as
 * each is spawned: spawning 32 peers takes longer than some pairs' whole
 * run, and a pair that started early finished early, so the slowest pair's
 * time (the many-channel rows' figure) depended on the spawn order. Each
 * sender opens its channel, waits for the moment (peer.c's
 * INTERVMFS_PEER_START_NS) and times itself from it.
 */
function allAtOnce<T>(k: number, start: (i: number, env: Record<string, string>) => Promise<T>): Promise<T[]> {
  const at = process.hrtime.bigint() + BigInt((START_MS_BASE + k * START_MS_PER_PAIR) * 1e6);
  return Promise.all(Array.from({ length: k }, (_, i) => start(i, { INTERVMFS_PEER_START_NS: String(at) })));
}
const START_MS_BASE = 50;
const START_MS_PER_PAIR = 20;

function withEnv(e: Endpoints, env: Record<string, string>): Endpoints {
  return { ...e, env: { ...e.env, ...env } };
}

/**
 * Quiet before each long measurement (a stream, the channels at once, a
 * round trip, the largest one-shot). What a run leaves behind carries over
 * to the next one: measured on this 2-vCPU machine with intervmfs, the C
 * reference and the kernel FIFO streaming in a fixed cyclic order, whichever
 * of the first two ran right after the kernel FIFO was 0.64x the other, in
 * either order; after 150 ms of quiet before each run the two were within
 * noise of each other in both orders (docs/PERFORMANCE.md, "The engine
 * against the C reference"). About a minute of a full run.
 */
const SETTLE_MS = 150;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cli = (args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function memory(pid: number): { rssKiB: number; anonKiB: number } {
  let status = '';
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    /* gone: NaN figures, and the run fails on its next transfer if it matters */
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), anonKiB: field('RssAnon') };
}

function machine() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version };
}

export async function runBench(opts: BenchOptions): Promise<void> {
  if (!fs.existsSync(PEER)) throw new Error(`the peer program is not built (${PEER}); run npm ci`);
  const plan = makePlan(opts.quick, opts.rounds);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-bench-'));
  const pairs = Math.max(...plan.scaleChannels);
  // Pair i's two peers on one CPU (cpus.ts), unless --no-pin.
  const cpus = opts.pin === false ? undefined : allowedCpus();
  const pair = (c: Channel, i: number): Endpoints => (cpus ? { ...c.pair(i), cpu: pairCpu(cpus, i) } : c.pair(i));
  const channels: Channel[] = [];
  // Never throws (it runs in finally and on 'exit', where a throw would hide
  // the failure being reported): each problem is printed and the rest goes on.
  const warn = (what: string) => process.stderr.write(`intervmfs bench: ${what}\n`);
  const cleanup = () => {
    stopPeers();
    for (const c of channels.splice(0)) {
      try {
        c.close();
      } catch (err) {
        warn(`closing ${c.name}: ${(err as Error).message}`);
      }
    }
    try {
      for (const m of mountsUnder(work)) {
        const failed = unmountLazily(m);
        if (failed) warn(failed);
      }
      const left = mountsUnder(work);
      // rm -r would walk into a live mount and delete what it serves.
      if (left.length > 0) warn(`left ${work} in place: still mounted: ${left.join(', ')}`);
      else fs.rmSync(work, { recursive: true, force: true });
    } catch (err) {
      warn(`cleaning up ${work}: ${(err as Error).message}`);
    }
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort: even a crash unmounts (cleanup is synchronous).
  process.once('exit', cleanup);
  const startedAt = new Date();
  let bar: SingleBar | undefined;
  try {
    const spin = `spin ${opts.spinUs} µs`;
    // In column order; --only picks some (the kernel FIFO always runs: every ratio is to it).
    const setups: [string, () => Channel | Promise<Channel>][] = [
      ['intervmfs futex', () => intervmfs(cli, work, 'futex', pairs)],
      ['intervmfs poll', () => intervmfs(cli, work, 'poll', pairs)],
      // The opt-in spin (mount --spin-us): what it buys on round trips, what it costs elsewhere.
      [`intervmfs futex ${spin}`, () => intervmfs(cli, work, 'futex', pairs, opts.spinUs)],
      ['library', () => library(cli, pairs)],
      ['library ↔ mount', () => libraryToMount(cli, work, pairs)],
      ['C library', () => cLibrary(cli, pairs)],
      [`C library ${spin}`, () => cLibrary(cli, pairs, opts.spinUs)],
      [CREF_NAME, () => cReference(work, pairs)],
      [BASELINE, () => kernelFifo(work, pairs)],
      ['Unix socket', () => unixSocket(work)],
      ['TCP loopback', () => tcpLoopback()],
      ['Unix socket (Node)', () => nodeUnixSocket(work)],
    ];
    for (const [name, make] of selectColumns(setups, opts.only)) channels.push(await stage('setting up', name, make));
    const names = channels.map((c) => c.name);
    const notes = Object.fromEntries(channels.flatMap((c) => (c.note ? [[c.name, c.note]] : [])));
    const daemonMemory = () => Object.fromEntries(channels.flatMap((c) => c.daemons().map(({ side, pid }) => [`${c.name} side ${side}`, memory(pid)])));
    const memStart = daemonMemory();

    // Count the steps for the progress bar: the digests, then every round.
    const perRound = plan.oneShot.reduce((n, o) => n + o.runs, 0) + 1 + plan.streamWrites.length + plan.scaleChannels.length;
    bar = new SingleBar({ format: 'bench [{bar}] {value}/{total} {duration_formatted} {task}', stream: process.stderr, hideCursor: false, noTTYOutput: true, notTTYSchedule: 5000 });
    bar.start(channels.length * (1 + plan.rounds * perRound), 0, { task: 'verifying data' });
    /**
     * One step on one channel: shown while it runs, named in the failure if it fails.
     * `settled`: after SETTLE_MS of quiet, so that the channel starts from the
     * state every other channel started from, not from what its predecessor left.
     */
    const measure = async <T>(what: string, c: Channel, run: () => Promise<T>, settled = false): Promise<T> => {
      bar?.update({ task: `${what}, ${c.name}` });
      if (settled) await pause(SETTLE_MS);
      const result = await stage(what, c, run);
      bar?.increment();
      return result;
    };

    // Data verified by digest once per channel before anything is timed.
    for (const c of channels) await measure('verifying 2 MiB by digest', c, () => transfer(pair(c, 0), 2 * 1024 * 1024, 65536, true));

    // Round r runs every workload on every channel before round r + 1 starts,
    // so that a noisy minute of the shared machine lands in one round of every
    // channel rather than in all rounds of one; each figure is then the median
    // of its rounds. Each round visits the channels in its own shuffled order
    // (order.ts), so that no channel always follows the same one or comes
    // first after a pause.
    const book = new RoundBook();
    const seed = opts.seed ?? startedAt.getTime() % 2 ** 31;
    const orders = roundOrders(channels, plan.rounds, seed);
    for (let r = 0; r < plan.rounds; r++) {
      const round = `round ${r + 1}/${plan.rounds}`;
      const order = orders[r];
      for (const o of plan.oneShot) {
        const ns: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
        for (let k = 0; k < o.runs; k++) {
          for (const c of order) {
            const s = await measure(`${round}: one-shot ${o.label}, run ${k + 1}/${o.runs}`, c, () => transfer(pair(c, 0), o.size, Math.min(o.size, 1 << 20)), o.runs === 1);
            ns[c.name].push(Number(s.ns));
          }
        }
        const unit = o.size <= 4096 ? 1e3 : 1e6;
        const ref = REFERENCE_NS[o.label];
        for (const c of order) {
          const m = median(ns[c.name]);
          const row = book.add(`one-shot ${o.label}`, unit === 1e3 ? 'median µs' : 'median ms', 'lower', c.name, m / unit, ns[c.name].map((v) => v / unit));
          if (ref) row.values[REFERENCE] = ref / unit;
          if (o.size >= 64 * 1024 * 1024) {
            const gbps = book.add(`one-shot ${o.label}`, 'GB/s', 'higher', c.name, o.size / m);
            if (ref) gbps.values[REFERENCE] = o.size / ref;
          }
        }
      }

      const ping = `ping-pong 64 B x${plan.pingCount}`;
      for (const c of order) {
        const p = await measure(`${round}: ${ping}`, c, () => pingPong(pair(c, 0), plan.pingCount, 64), true);
        book.add(ping, 'p50 µs', 'lower', c.name, Number(p.p50) / 1e3);
        book.add(ping, 'p99 µs', 'lower', c.name, Number(p.p99) / 1e3);
        book.add(ping, 'p99.9 µs', 'lower', c.name, Number(p.p999) / 1e3);
      }

      for (const w of plan.streamWrites) {
        for (const c of order) {
          const s = await measure(`${round}: stream, ${w.label} writes`, c, () => transfer(pair(c, 0), w.total, w.size), true);
          book.add(`stream, ${w.label} writes`, 'MB/s', 'higher', c.name, w.total / (Number(s.ns) / 1e9) / 1e6);
        }
      }

      for (const k of plan.scaleChannels) {
        const workload = `${k} channel${k > 1 ? 's' : ''} at once, 128 KiB writes`;
        for (const c of order) {
          if (k > (c.maxPairsAtOnce ?? k)) {
            bar?.increment();
            continue;
          }
          const results = await measure(`${round}: ${workload}`, c, () => allAtOnce(k, (i, env) => transfer(withEnv(pair(c, i), env), plan.scaleTotal, 128 * 1024)), true);
          const slowest = Math.max(...results.map((s) => Number(s.ns)));
          book.add(workload, 'MB/s total', 'higher', c.name, (k * plan.scaleTotal) / (slowest / 1e9) / 1e6);
        }
      }
    }
    const rows = book.list();
    bar.stop();
    bar = undefined;

    const memEnd = daemonMemory();
    const columns = [...names, REFERENCE];
    const placement = cpus ? `each pair's peers on one CPU of ${cpus.join(',')}` : 'peers unpinned';
    const title = `intervmfs bench${opts.quick ? ' --quick' : ''}, ${plan.rounds} round${plan.rounds > 1 ? 's' : ''}, ${placement}, ${startedAt.toISOString().slice(0, 16)}Z, ${machine().cores} x ${machine().cpu}`;
    const table = renderTable(rows, columns, notes);
    const against = againstReference(rows, 'intervmfs futex', CREF_NAME);
    console.log(title);
    console.log(table);
    if (against.length > 0) console.log(['', ...against].join('\n'));
    console.log('\nFUSE daemons, resident memory (anonymous) at start -> end:');
    for (const k of Object.keys(memStart)) {
      console.log(`  ${k}: ${memStart[k].anonKiB} -> ${memEnd[k]?.anonKiB} KiB (with touched memsection pages ${memStart[k].rssKiB} -> ${memEnd[k]?.rssKiB} KiB)`);
    }
    fs.mkdirSync(opts.out, { recursive: true });
    const json = path.join(opts.out, 'bench.json');
    const svg = path.join(opts.out, 'bench.svg');
    const txt = path.join(opts.out, 'bench.txt');
    fs.writeFileSync(json, JSON.stringify({ startedAt, seconds: (Date.now() - startedAt.getTime()) / 1000, quick: opts.quick, machine: machine(), plan, peerCpus: cpus ?? null, seed, orders: orders.map((o) => o.map((c) => c.name)), notes, rows, memory: { start: memStart, end: memEnd } }, null, 2));
    fs.writeFileSync(svg, renderSvg(rows, columns, title));
    fs.writeFileSync(txt, [title, table, ...(against.length > 0 ? ['', ...against] : []), ''].join('\n'));
    console.log(`\nwrote ${json}, ${svg} and ${txt} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s)`);
    if (!names.includes(BASELINE)) throw new BenchFailure('bench failed: no kernel FIFO baseline among the channels');
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', cleanup);
    bar?.stop();
    cleanup();
  }
}
