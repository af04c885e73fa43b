// The bench's peer for the library (src/lib): bench/peer.c's four modes, with
// the same arguments and the same one JSON line, over channels that this
// process opens with openChannel instead of paths. So the library is
// measured by the same workloads as the mounts and the sockets, with what a
// Node program pays for it (its event loop included), and no FUSE.
//
//   node lib-peer.js send|recv|ping|pong DATA ACK SIZE|COUNT CHUNK|MSG [verify]
//
// DATA and ACK are lib:SIDE:SET:NAME; the channel is made if missing. The
// process claims SIDE of SET while it runs: one peer per side at a time.
// Or DATA is nodeunix:PATH (ACK ignored): a Unix socket through node:net,
// the receiving end listening, for what a Node program would use instead.
// A receiving end prints READY once its channels are open (or it listens).
import { once } from 'events';
import fs from 'fs';
import net from 'net';
import { Duplex, Readable } from 'stream';
import { ChannelMode, ChannelStream, openChannel } from '../lib';
import { READY } from './peer';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;

/** FNV-1a 64, as peer.c computes it, so a library end and a C end compare digests. */
function fnv(h: bigint, bytes: Uint8Array): bigint {
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & U64;
  return h;
}

function parseLibSpec(spec: string): { side: 'a' | 'b'; memsections: string; name: string } {
  const m = /^lib:([ab]):(.+):([^:]+)$/.exec(spec);
  if (!m) throw new Error(`${JSON.stringify(spec)} is not lib:SIDE:SET:NAME`);
  return { side: m[1] as 'a' | 'b', memsections: m[2], name: m[3] };
}

/**
 * As peer.c: with INTERVMFS_PEER_START_NS (a CLOCK_MONOTONIC time, which
 * process.hrtime is on Linux), a sender writes nothing before it. Read
 * before anything is opened.
 */
function startTime(): bigint | undefined {
  const at = process.env.INTERVMFS_PEER_START_NS;
  if (!at) return undefined;
  if (!/^[1-9]\d*$/.test(at)) throw new Error(`INTERVMFS_PEER_START_NS=${at} is not a time in nanoseconds`);
  return BigInt(at);
}

async function waitUntil(at: bigint | undefined): Promise<void> {
  if (at === undefined) return;
  const left = at - process.hrtime.bigint();
  if (left > 0n) await new Promise((resolve) => setTimeout(resolve, Number(left / 1_000_000n)));
  while (process.hrtime.bigint() < at); // the last part of a millisecond
}

function open(spec: string, mode: ChannelMode): ChannelStream {
  return openChannel({ ...parseLibSpec(spec), mode, create: true });
}

/** Exactly `n` bytes from `s`, or an error at its end. */
export function readExactly(s: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, b?: Buffer) => {
      s.off('readable', attempt);
      s.off('end', ended);
      s.off('error', done);
      if (err) reject(err);
      else resolve(b!);
    };
    const ended = () => done(new Error('unexpected end of data'));
    function attempt() {
      const b = s.read(n) as Buffer | null;
      if (b === null) return;
      if (b.length < n) return done(new Error('unexpected end of data'));
      done(null, b);
    }
    s.on('readable', attempt);
    s.once('end', ended);
    s.once('error', done);
    attempt();
  });
}

/** The data and ack streams of this end, once they are open; a receiver then says READY. */
async function openEnds(dataSpec: string, ackSpec: string, receiving: boolean): Promise<[Duplex, Duplex]> {
  if (dataSpec.startsWith('nodeunix:')) {
    const where = dataSpec.slice('nodeunix:'.length);
    if (!receiving) {
      const sock = net.connect(where);
      await once(sock, 'connect');
      return [sock.setNoDelay(true), sock];
    }
    const server = net.createServer().listen(where);
    await once(server, 'listening');
    process.stdout.write(`${READY}\n`);
    const [sock] = (await once(server, 'connection')) as [net.Socket];
    server.close();
    fs.rmSync(where, { force: true });
    return [sock.setNoDelay(true), sock];
  }
  // Opened in peer.c's order (data, then ack), so neither end waits on the other's second open.
  const data = open(dataSpec, receiving ? 'r' : 'w');
  const ack = open(ackSpec, receiving ? 'w' : 'r');
  await Promise.all([data, ack].map((st) => once(st, 'ready')));
  if (receiving) process.stdout.write(`${READY}\n`);
  return [data, ack];
}

/** Hands `each` the next `n` bytes of `s` as they come (not more: a socket's ack follows on it). */
function consume(s: Readable, n: number, each: (b: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = n;
    const done = (err?: Error) => {
      s.off('readable', take);
      s.off('end', ended);
      s.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const ended = () => done(new Error('unexpected end of data'));
    function take() {
      for (let b: Buffer | null; left > 0 && (b = s.read(Math.min(left, s.readableLength || left)) as Buffer | null) !== null; ) {
        each(b);
        left -= b.length;
      }
      if (left === 0) done();
    }
    s.on('readable', take);
    s.once('end', ended);
    s.once('error', done);
    take();
  });
}

async function write(s: Duplex, b: Buffer): Promise<void> {
  if (!s.write(b)) await once(s, 'drain');
}

async function main(argv: string[]): Promise<Record<string, string | number>> {
  if (argv.length < 5) throw new Error('usage: lib-peer send|recv|ping|pong DATA ACK SIZE|COUNT CHUNK|MSG [verify]');
  const [mode, dataSpec, ackSpec] = argv;
  const n = Number(argv[3]);
  const chunk = Number(argv[4]);
  const verify = argv[5] === 'verify';
  if (!Number.isSafeInteger(n) || n < 1 || !Number.isSafeInteger(chunk) || chunk < 1) throw new Error('SIZE|COUNT and CHUNK|MSG must be positive whole numbers');
  const startAt = startTime();
  const receiving = mode === 'recv' || mode === 'pong';
  const [data, ack] = await openEnds(dataSpec, ackSpec, receiving);
  const pattern = Buffer.from(Array.from({ length: chunk }, (_, i) => (i * 7 + 1) & 0xff));
  let digest = FNV_OFFSET;
  const hex = () => digest.toString(16).padStart(16, '0');
  let failed = true;
  try {
    const result = await run();
    failed = false;
    return result;
  } finally {
    // The side is detached once the last stream closes: wait for that, so the
    // next peer on this side finds it free. Writers end (what they wrote
    // still arrives); readers, and everything after a failure, are destroyed.
    await Promise.all([...new Set([data, ack])].map((st) => shut(st, failed)));
  }

  async function run(): Promise<Record<string, string | number>> {
    switch (mode) {
      case 'send': {
        await waitUntil(startAt);
        const t0 = process.hrtime.bigint();
        for (let left = n; left > 0; ) {
          const k = Math.min(left, chunk);
          const piece = k === chunk ? pattern : pattern.subarray(0, k);
          if (verify) digest = fnv(digest, piece);
          await write(data, piece);
          left -= k;
        }
        await readExactly(ack, 1);
        return { ns: Number(process.hrtime.bigint() - t0), digest: hex() };
      }
      case 'recv': {
        await consume(data, n, (piece) => {
          if (verify) digest = fnv(digest, piece);
        });
        await write(ack, Buffer.from('k'));
        return { digest: hex() };
      }
      case 'ping': {
        const rtt: bigint[] = [];
        for (let i = 0; i < n; i++) {
          const t = process.hrtime.bigint();
          await write(data, pattern);
          await readExactly(ack, chunk);
          rtt.push(process.hrtime.bigint() - t);
        }
        rtt.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        return { p50: Number(rtt[Math.floor(n / 2)]), p99: Number(rtt[Math.floor((n * 99) / 100)]), p999: Number(rtt[Math.floor((n * 999) / 1000)]), count: n };
      }
      case 'pong': {
        for (let i = 0; i < n; i++) await write(ack, await readExactly(data, chunk));
        return {};
      }
      default:
        throw new Error(`unknown mode ${mode}`);
    }
  }
}

function shut(s: Duplex, destroy: boolean): Promise<void> {
  if (s.closed) return Promise.resolve();
  const closed = once(s, 'close').then(
    () => undefined,
    () => undefined,
  );
  if (s.writable && !destroy) s.end();
  else s.destroy();
  return closed;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (r) => console.log(JSON.stringify(r)),
    (err: Error) => {
      process.stderr.write(`lib-peer: ${err.message}\n`);
      process.exit(1);
    },
  );
}
