// Runs the peer program (bench/peer.c, built by npm ci) on both ends of one
// pair and returns what each end printed.
import { spawn } from 'child_process';
import path from 'path';
import { Endpoints } from './channels';

export const PEER = path.resolve(__dirname, '../../../build/Release/intervmfs-peer');

export type PeerResult = Record<string, string | number>;

function run(args: string[], timeoutMs: number): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PEER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close', not 'exit': only then has all of its output been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        return reject(new Error(`peer ${args.join(' ')}: ${signal ? `killed by ${signal} (timeout ${timeoutMs} ms?)` : `exit ${code}`} ${err.trim()}`));
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`peer ${args.join(' ')} printed ${JSON.stringify(out)}`));
      }
    });
    child.on('error', reject);
  });
}

/** One transfer of `size` bytes in `chunk`-byte writes, acknowledged; resolves with the sender's result. */
export async function transfer(e: Endpoints, size: number, chunk: number, verify = false, timeoutMs = 300_000): Promise<PeerResult> {
  const extra = verify ? ['verify'] : [];
  const recv = run(['recv', e.recvData, e.recvAck, String(size), String(Math.min(chunk, size)), ...extra], timeoutMs);
  const send = run(['send', e.sendData, e.sendAck, String(size), String(Math.min(chunk, size)), ...extra], timeoutMs);
  const [s, r] = await Promise.all([send, recv]);
  if (verify && s.digest !== r.digest) throw new Error(`digest mismatch: sent ${s.digest}, received ${r.digest}`);
  return s;
}

/** `count` round trips of `size`-byte messages; resolves with p50 and p99 in ns. */
export async function pingPong(e: Endpoints, count: number, size: number, timeoutMs = 300_000): Promise<PeerResult> {
  const pong = run(['pong', e.recvData, e.recvAck, String(count), String(size)], timeoutMs);
  const ping = run(['ping', e.sendData, e.sendAck, String(count), String(size)], timeoutMs);
  const [p] = await Promise.all([ping, pong]);
  return p;
}
