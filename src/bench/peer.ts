// Runs the peer program (bench/peer.c, built by npm ci; for an end on the
// library or on node:net, lib-peer.ts under Node) on both ends of one pair and returns what
// each end printed. When one end fails the other is
// stopped at once (it would otherwise wait for data that never comes), and
// the error says which end failed, how, and what it printed on stderr.
import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { Endpoints } from './channels';
import { describeExit, tail } from './failure';

export const PEER = path.resolve(__dirname, '../../../build/Release/intervmfs-peer');
const LIB_PEER = path.resolve(__dirname, 'lib-peer.js');
/** The line a receiving library end (lib-peer.ts) prints once its channels are open, before its result. */
export const READY = 'READY';

export type PeerResult = Record<string, string | number>;

interface Running {
  result: Promise<PeerResult>;
  /** A library receiver has its channels open (it prints READY first); a C peer at once, since its opens wait for the sender. */
  ready: Promise<void>;
  stop(): void;
}

/** Every peer still running, so that a failed run can stop them all (stopPeers). */
const running = new Set<ChildProcess>();

/** Kills every peer still running (their channels are about to be torn down). */
export function stopPeers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** An end lib-peer.ts runs (the library, or node:net), not the C peer. */
const onNode = (args: string[]) => args[1].startsWith('lib:') || args[1].startsWith('nodeunix:');

/** The program and arguments of one end: the C peer, or lib-peer.ts under Node; under taskset when pinned. */
export function peerCommand(args: string[], e: Endpoints): [string, string[]] {
  const [program, argv] = onNode(args) ? [process.execPath, [LIB_PEER, ...args]] : [PEER, args];
  // taskset execs the program: the child's pid, signals and output are the program's own.
  return e.cpu === undefined ? [program, argv] : ['taskset', ['--cpu-list', String(e.cpu), program, ...argv]];
}

function run(args: string[], timeoutMs: number, e: Endpoints): Running {
  const onLibrary = onNode(args);
  const [program, argv] = peerCommand(args, e);
  const child = spawn(program, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: e.env && { ...process.env, ...e.env } });
  running.add(child);
  let why = '';
  let isReady = () => undefined as void;
  const ready = onLibrary ? new Promise<void>((resolve) => (isReady = resolve)) : Promise.resolve();
  const result = new Promise<PeerResult>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.startsWith(`${READY}\n`)) isReady();
    });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      why = ` after the ${timeoutMs} ms limit`;
      child.kill('SIGKILL');
    }, timeoutMs);
    const what = `peer ${args.join(' ')}`;
    // 'close', not 'exit': only then has all of its output been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      isReady(); // whoever waits learns the outcome from result
      if (out.startsWith(`${READY}\n`)) out = out.slice(READY.length + 1);
      if (code !== 0) {
        const stderr = tail(err);
        return reject(new Error(`${what} ${describeExit(code, signal)}${why}${stderr ? `; its stderr ends:\n${stderr}` : ' (no stderr)'}`));
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`${what} printed ${JSON.stringify(out)}, not one JSON line`));
      }
    });
    // Could not start (or be signalled); 'close' may never come.
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      isReady();
      reject(new Error(`${what}: ${e.message}`));
    });
  });
  return {
    result,
    ready,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) {
        why ||= ' because the other end had failed';
        child.kill('SIGKILL');
      }
    },
  };
}

/** Both ends' results; when either fails, the other is stopped and the first failure is what rejects. */
async function both(first: Running, second: Running): Promise<[PeerResult, PeerResult]> {
  try {
    return await Promise.all([first.result, second.result]);
  } catch (err) {
    first.stop();
    second.stop();
    await Promise.allSettled([first.result, second.result]);
    throw err;
  }
}

/** One transfer of `size` bytes in `chunk`-byte writes, acknowledged; resolves with the sender's result. */
export async function transfer(e: Endpoints, size: number, chunk: number, verify = false, timeoutMs = 300_000): Promise<PeerResult> {
  const extra = verify ? ['verify'] : [];
  const recv = run(['recv', e.recvData, e.recvAck, String(size), String(Math.min(chunk, size)), ...extra], timeoutMs, e);
  await recv.ready; // the sender's clock must not run while a library receiver starts
  const send = run(['send', e.sendData, e.sendAck, String(size), String(Math.min(chunk, size)), ...extra], timeoutMs, e);
  const [s, r] = await both(send, recv);
  if (verify && s.digest !== r.digest) throw new Error(`digest mismatch: sent ${s.digest}, received ${r.digest}`);
  return s;
}

/** `count` round trips of `size`-byte messages; resolves with p50, p99 and p99.9 (p999) in ns. */
export async function pingPong(e: Endpoints, count: number, size: number, timeoutMs = 300_000): Promise<PeerResult> {
  const pong = run(['pong', e.recvData, e.recvAck, String(count), String(size)], timeoutMs, e);
  await pong.ready;
  const ping = run(['ping', e.sendData, e.sendAck, String(count), String(size)], timeoutMs, e);
  const [p] = await both(ping, pong);
  return p;
}
