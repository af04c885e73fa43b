// `npm run breakdown`: where the time of a 4 KiB message and of a 1 GiB
// transfer goes, layer by layer. Mounts two traced peers (INTERVMFS_TRACE),
// runs each workload between two plain processes that time their own system
// calls, and prints the application's view next to the daemons' stages (see
// tracer.ts for what each stage covers): how many reads and writes reached
// JavaScript (none should: the native engine serves them on libfuse's
// thread), and the engine's own counters (requests, sleeps, copy time).
// Cleans up in all outcomes. With --vm, the same between two QEMU guests
// (vm-breakdown.ts).
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { diff, readTrace, Snapshot } from './snapshot';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'bin', 'intervmfs.js');

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
}

/** Runs a Node snippet as its own process (a peer program); resolves with its last JSON line. */
function peer(body: string, args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `const fs = require('fs'); const args = process.argv.slice(1); const now = () => Number(process.hrtime.bigint());\n${body}`, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`peer exited ${code}`))));
  });
}

const us = (ns: number) => (ns / 1000).toFixed(1);

function printStages(title: string, snap: Snapshot, perOf: number): void {
  const s = snap.stages;
  const e = snap.engine;
  console.log(`  ${title}`);
  const js = (s['dispatch.read']?.count ?? 0) + (s['dispatch.write']?.count ?? 0);
  console.log(`    reads and writes that reached JavaScript: ${js}`);
  console.log(
    `    engine: ${e.reads} reads (${(e.readBytes / 1048576).toFixed(1)} MiB), ${e.writes} writes (${(e.writeBytes / 1048576).toFixed(1)} MiB); ` +
      `${e.waits} sleeps, mean ${us(e.waits ? e.waitNs / e.waits : 0)} µs; ring copies ${us(e.copyNs / perOf)} µs per message`,
  );
  for (const [k, v] of Object.entries(s).sort()) {
    const mean = v.count ? v.totalNs / v.count : 0;
    const perMessage = v.totalNs / perOf;
    console.log(
      `    ${k.padEnd(16)} ${String(v.count).padStart(8)} x  mean ${us(mean).padStart(8)} µs  per message ${us(perMessage).padStart(9)} µs` +
        (v.bytes ? `  ${(v.bytes / 1048576).toFixed(1)} MiB` : ''),
    );
  }
}

async function messages(a: string, b: string, trace: string, count: number): Promise<void> {
  const before = { a: readTrace(trace, 'a'), b: readTrace(trace, 'b') };
  // Side b: read each 4 KiB message whole, answer with one byte.
  const receiver = peer(
    `const r = fs.openSync(args[0], 'r'), w = fs.openSync(args[1], 'w'); const buf = Buffer.alloc(4096); const ack = Buffer.from('k');
     let readNs = 0;
     for (let i = 0; i < ${count}; i++) { let got = 0; const t = now(); while (got < 4096) got += fs.readSync(r, buf, got, 4096 - got, null); readNs += now() - t; fs.writeSync(w, ack); }
     console.log(JSON.stringify({ readNs }));`,
    [path.join(b, 'msg'), path.join(b, 'ack')],
  );
  const sender = peer(
    `const w = fs.openSync(args[0], 'w'), r = fs.openSync(args[1], 'r'); const msg = Buffer.alloc(4096, 1); const ack = Buffer.alloc(1);
     let writeNs = 0, ackNs = 0; const t0 = now();
     for (let i = 0; i < ${count}; i++) { let t = now(); fs.writeSync(w, msg); writeNs += now() - t; t = now(); fs.readSync(r, ack, 0, 1, null); ackNs += now() - t; }
     console.log(JSON.stringify({ totalNs: now() - t0, writeNs, ackNs }));`,
    [path.join(a, 'msg'), path.join(a, 'ack')],
  );
  const [s, r] = await Promise.all([sender, receiver]);
  await new Promise((res) => setTimeout(res, 1500)); // the daemons rewrite their trace every second
  console.log(`4 KiB messages a->b, each acknowledged by 1 byte b->a, ${count} times`);
  console.log(`  application: round trip ${us(s.totalNs / count)} µs; write(4 KiB) ${us(s.writeNs / count)} µs, read(ack) ${us(s.ackNs / count)} µs on a; read(4 KiB) ${us(r.readNs / count)} µs on b`);
  printStages('daemon a (writes the message, reads the ack)', diff(readTrace(trace, 'a'), before.a), count);
  printStages('daemon b (reads the message, writes the ack)', diff(readTrace(trace, 'b'), before.b), count);
}

async function bulk(a: string, b: string, trace: string, mib: number): Promise<void> {
  const before = { a: readTrace(trace, 'a'), b: readTrace(trace, 'b') };
  const receiver = peer(
    `const r = fs.openSync(args[0], 'r'); const buf = Buffer.alloc(1 << 20); let n = 0, k, readNs = 0;
     do { const t = now(); k = fs.readSync(r, buf, 0, buf.length, null); readNs += now() - t; n += k; } while (k > 0);
     console.log(JSON.stringify({ bytes: n, readNs }));`,
    [path.join(b, 'bulk')],
  );
  const sender = peer(
    `const w = fs.openSync(args[0], 'w'); const buf = Buffer.alloc(1 << 20, 7); let writeNs = 0; const t0 = now();
     for (let i = 0; i < ${mib}; i++) { const t = now(); fs.writeSync(w, buf); writeNs += now() - t; }
     fs.closeSync(w); console.log(JSON.stringify({ totalNs: now() - t0, writeNs }));`,
    [path.join(a, 'bulk')],
  );
  const [s, r] = await Promise.all([sender, receiver]);
  await new Promise((res) => setTimeout(res, 1500));
  const seconds = s.totalNs / 1e9;
  console.log(`${mib} MiB a->b in 1 MiB writes and reads`);
  console.log(
    `  application: ${seconds.toFixed(2)} s, ${((mib * 1048576) / seconds / 1e6).toFixed(0)} MB/s; ` +
      `time in write() ${(s.writeNs / 1e9).toFixed(2)} s on a, in read() ${(r.readNs / 1e9).toFixed(2)} s on b; ${r.bytes} bytes arrived`,
  );
  printStages('daemon a (writer side)', diff(readTrace(trace, 'a'), before.a), mib);
  printStages('daemon b (reader side)', diff(readTrace(trace, 'b'), before.b), mib);
  console.log('  (per message = per MiB here)');
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'intervmfs-breakdown-'));
  const trace = path.join(work, 'trace');
  const a = path.join(work, 'a');
  const b = path.join(work, 'b');
  const env = { ...process.env, INTERVMFS_TRACE: trace };
  // The set in memory, as the benchmark's and an ivshmem region are.
  const shm = fs.mkdtempSync('/dev/shm/intervmfs-breakdown-');
  const set = path.join(shm, 'ms');
  const mounted: string[] = [];
  const cleanup = () => {
    for (const m of mounted) {
      try {
        cli(['unmount', '--force', m]);
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(shm, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    cli(['format', '--memsections', set, '--channels', '4', '--data-size', '4M']);
    for (const [mnt, side] of [[a, 'a'], [b, 'b']]) {
      cli(['mount', mnt, '--memsections', set, '--side', side, '--notify', process.env.NOTIFY ?? 'futex'], env);
      mounted.push(mnt);
    }
    for (const name of ['msg', 'ack', 'bulk']) execFileSync('mknod', [path.join(a, name), 'p']);
    console.log(`intervmfs breakdown (notify ${process.env.NOTIFY ?? 'futex'}), ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
    await messages(a, b, trace, Number(process.env.MESSAGES ?? 2000));
    await bulk(a, b, trace, Number(process.env.MIB ?? 1024));
  } finally {
    cleanup();
  }
}

(process.argv.includes('--vm') ? import('./vm-breakdown').then((m) => m.runVmBreakdown()) : main()).catch((err) => {
  console.error(`breakdown: ${err.message}`);
  process.exitCode = 1;
});
