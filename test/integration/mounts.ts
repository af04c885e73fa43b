// Shared fixtures of the integration tests: real mounts made through the CLI
// (`node bin/intervmfs.js`), in temporary folders under os.tmpdir().
//
// Rules these helpers keep for every test:
//  - nothing in this process touches a path inside a mount synchronously;
//    whatever may block (read, write on a channel) runs in a child process
//    with a time limit, metadata calls use fs.promises behind a time limit;
//  - a Lab owns every folder, mount point and process a test makes, and its
//    cleanup unmounts (`intervmfs unmount --force`, then `umount -l`), ends
//    the processes it started (by pid), removes its folders, and fails when
//    something is left behind;
//  - the CLI runs with INTERVMFS_RUNTIME_DIR inside the lab, so daemon
//    records and logs go away with it (nothing in /run, nothing in /dev/shm).
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import fsp from 'fs/promises';
import os from 'os';
import path from 'path';

/** Root of the project, from dist/test/integration or test/integration. */
export const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
export const CLI = path.join(ROOT, 'bin', 'intervmfs.js');

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary payloads */
  out: Buffer;
  timedOut: boolean;
}

/** One child process, its output collected, ended by SIGKILL at its deadline. */
export class Proc {
  readonly child: ChildProcess;
  readonly done: Promise<RunResult>;
  private readonly outChunks: Buffer[] = [];
  private errText = '';
  private timedOut = false;
  private exited = false;

  constructor(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: Buffer | string } = {}) {
    this.child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => this.outChunks.push(d));
    this.child.stderr!.on('data', (d: Buffer) => (this.errText += d.toString()));
    this.child.stdin!.on('error', () => undefined);
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
    else this.child.stdin!.end();
    const timer = setTimeout(() => {
      this.timedOut = true;
      this.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    this.done = new Promise<RunResult>((resolve) => {
      this.child.on('error', (err) => {
        this.errText += String(err);
      });
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.exited = true;
        const out = Buffer.concat(this.outChunks);
        resolve({ code, signal, stdout: out.toString(), stderr: this.errText, out, timedOut: this.timedOut });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return !this.exited;
  }

  get stderrSoFar(): string {
    return this.errText;
  }

  get stdoutSoFar(): string {
    return Buffer.concat(this.outChunks).toString();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exited || !this.child.pid) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      /* already gone */
    }
  }

  /** Waits until stdout holds `text`; fails if the process ends first or time runs out. */
  async waitForOutput(text: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (this.stdoutSoFar.includes(text)) return;
      if (!this.running) break;
      await delay(20);
    }
    if (this.stdoutSoFar.includes(text)) return;
    const r = this.running ? undefined : await this.done;
    throw new Error(`process ${this.pid} did not print ${JSON.stringify(text)} within ${ms} ms` + (r ? ` (it ended: code ${r.code}, signal ${r.signal}, stderr ${r.stderr})` : ''));
  }
}

/** Resolves `p`, or rejects with a clear message when it takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error code of a promise that must reject (fs.promises calls), e.g. 'EPERM'. */
export async function errnoOf(p: Promise<unknown>, what = 'the call'): Promise<string> {
  try {
    await within(p, 10_000, what);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) return code;
    throw err;
  }
  return 'succeeded';
}

/** Mount points listed in /proc/mounts (octal escapes decoded). */
export function procMounts(): string[] {
  return fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 2)
    .map((f) => f[1].replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isMounted(mountpoint: string): boolean {
  return procMounts().includes(path.resolve(mountpoint));
}

/** Pids (other than ours) whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(text)) found.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/**
 * Whether `pid` still runs. A zombie counts as gone: daemons started by
 * `mount` are reparented to init, which may take a while to reap them.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await delay(25);
  }
}

/**
 * A node script run in a child process: `body` runs with `fs`, `C`
 * (fs.constants), `args` (the extra arguments) and `errno(fn)` (the error
 * code fn throws, or its result) in scope, and ends with `done(value)`,
 * which prints value as JSON. Blocking sync calls are fine there: the child
 * dies at its deadline and the test fails with a clear message.
 */
const PROBE_PRELUDE = `
const fs = require('fs');
const C = fs.constants;
const args = process.argv.slice(1);
const errno = (fn) => { try { return fn(); } catch (e) { return e.code || String(e); } };
const readText = (fd, n = 65536) => { const b = Buffer.alloc(n); const k = fs.readSync(fd, b, 0, n, null); return b.subarray(0, k).toString(); };
const done = (value) => { process.stdout.write(JSON.stringify(value) + '\\n'); };
`;

export async function probe<T = unknown>(body: string, args: string[], timeoutMs = 10_000): Promise<T> {
  const r = await new Proc(process.execPath, ['-e', PROBE_PRELUDE + body, ...args], { timeoutMs }).done;
  if (r.timedOut) throw new Error(`probe did not finish within ${timeoutMs} ms (blocked in the mount?); stdout: ${r.stdout} stderr: ${r.stderr}`);
  if (r.code !== 0) throw new Error(`probe failed: code ${r.code}, signal ${r.signal}, stderr: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/**
 * mknod through Python's os.mknod, for an errno name instead of a message:
 * 'OK' or e.g. 'EPERM'. kind: fifo, reg, chr, sock (a bind of a unix socket).
 */
export async function mknodErrno(file: string, kind: 'fifo' | 'reg' | 'chr' | 'sock' = 'fifo', mode = 0o644): Promise<string> {
  const script = `
import errno, os, socket, stat, sys
path, kind, mode = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if kind == 'sock':
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
    else:
        t = {'fifo': stat.S_IFIFO, 'reg': stat.S_IFREG, 'chr': stat.S_IFCHR}[kind]
        os.mknod(path, t | mode, os.makedev(1, 3) if kind == 'chr' else 0)
    print('OK')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
`;
  const r = await new Proc('python3', ['-c', script, file, kind, String(mode)], { timeoutMs: 10_000 }).done;
  if (r.timedOut || r.code !== 0) throw new Error(`python3 mknod ${kind} ${file} failed: code ${r.code}, stderr ${r.stderr}`);
  return r.stdout.trim();
}

export interface MountInfo {
  mountpoint: string;
  pid: number;
  stdout: string;
}

/** Everything one describe block (or test) makes, and its cleanup. */
export class Lab {
  readonly dir: string;
  readonly runtime: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly mountpoints = new Set<string>();
  private readonly pids = new Set<number>();
  private readonly procs = new Set<Proc>();

  constructor(tag = 'it') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `intervmfs-${tag}-`));
    this.runtime = path.join(this.dir, 'runtime');
    fs.mkdirSync(this.runtime, { mode: 0o700 });
    this.env = { ...process.env, INTERVMFS_RUNTIME_DIR: this.runtime };
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** A child process this lab ends at cleanup if it is still running. */
  proc(cmd: string, args: string[], opts: { timeoutMs?: number; input?: Buffer | string } = {}): Proc {
    const p = new Proc(cmd, args, { env: this.env, cwd: this.dir, ...opts });
    this.procs.add(p);
    return p;
  }

  /** `sh -c script` with "$1"... bound to args. */
  sh(script: string, args: string[] = [], opts: { timeoutMs?: number; input?: Buffer | string } = {}): Proc {
    return this.proc('sh', ['-c', script, 'sh', ...args], opts);
  }

  /** Runs the CLI to its end. */
  cli(args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return this.proc(process.execPath, [CLI, ...args], { timeoutMs }).done;
  }

  /** The CLI in a process of its own that keeps running (mount --foreground). */
  cliProc(args: string[], timeoutMs = 60_000): Proc {
    return this.proc(process.execPath, [CLI, ...args], { timeoutMs });
  }

  /** Formats a set in the lab; fails the test if format fails. */
  async format(name = 'set', extra: string[] = ['--channels', '8', '--data-size', '128K']): Promise<string> {
    const set = this.path(name);
    const r = await this.cli(['format', '--memsections', set, ...extra]);
    if (r.code !== 0) throw new Error(`format failed (${r.code}): ${r.stderr}`);
    return set;
  }

  /** A fresh empty directory to mount on (tracked from now on). */
  async mountpoint(name: string): Promise<string> {
    const mnt = this.path(name);
    await fsp.mkdir(mnt, { recursive: true });
    this.mountpoints.add(mnt);
    return mnt;
  }

  /** Remembers a mount point and daemon so cleanup takes care of them. */
  track(mountpoint: string, pid?: number): void {
    this.mountpoints.add(path.resolve(mountpoint));
    if (pid) this.pids.add(pid);
  }

  /** `intervmfs mount` as a user runs it; the raw result (no assertion). */
  async tryMount(mountpoint: string, set: string, side: 'a' | 'b', extra: string[] = []): Promise<RunResult> {
    this.track(mountpoint);
    const r = await this.cli(['mount', mountpoint, '--memsections', set, '--side', side, ...extra]);
    const m = /daemon pid (\d+)/.exec(r.stdout);
    if (m) this.pids.add(Number(m[1]));
    return r;
  }

  /** Mounts one side in the background; fails the test if the mount fails. */
  async mount(name: string, set: string, side: 'a' | 'b', extra: string[] = []): Promise<MountInfo> {
    const mnt = await this.mountpoint(name);
    const r = await this.tryMount(mnt, set, side, extra);
    if (r.code !== 0) throw new Error(`mount of side ${side} on ${mnt} failed (${r.code}): ${r.stderr}`);
    if (!isMounted(mnt)) throw new Error(`mount said ${JSON.stringify(r.stdout.trim())} but ${mnt} is not in /proc/mounts`);
    const m = /daemon pid (\d+)/.exec(r.stdout);
    return { mountpoint: mnt, pid: m ? Number(m[1]) : -1, stdout: r.stdout };
  }

  /** Formats an area region of `size` in the lab (a file, as /dev/shm would hold it). */
  async formatAreas(name = 'areas', size = '64M'): Promise<string> {
    const region = this.path(name);
    const r = await this.cli(['format', '--areas', '--memsections', region, '--size', size]);
    if (r.code !== 0) throw new Error(`format --areas failed (${r.code}): ${r.stderr}`);
    return region;
  }

  /** `intervmfs mount --area` as a user runs it; the raw result (no assertion). */
  async tryMountArea(mountpoint: string, region: string, area: number, peer: string, extra: string[] = []): Promise<RunResult> {
    this.track(mountpoint);
    const r = await this.cli(['mount', mountpoint, '--memsections', region, '--area', String(area), '--peer', peer, ...extra]);
    const m = /daemon pid (\d+)/.exec(r.stdout);
    if (m) this.pids.add(Number(m[1]));
    return r;
  }

  /** Mounts area `area` as `peer`; fails the test if the mount fails. */
  async mountArea(name: string, region: string, area: number, peer: string, extra: string[] = []): Promise<MountInfo> {
    const mnt = await this.mountpoint(name);
    const r = await this.tryMountArea(mnt, region, area, peer, extra);
    if (r.code !== 0) throw new Error(`mount of area ${area} as ${peer} on ${mnt} failed (${r.code}): ${r.stderr}`);
    if (!isMounted(mnt)) throw new Error(`mount said ${JSON.stringify(r.stdout.trim())} but ${mnt} is not in /proc/mounts`);
    const m = /daemon pid (\d+)/.exec(r.stdout);
    return { mountpoint: mnt, pid: m ? Number(m[1]) : -1, stdout: r.stdout };
  }

  /** Formats a set and mounts side a and side b of it. */
  async pair(notify: 'futex' | 'poll' = 'futex', formatArgs?: string[]): Promise<{ set: string; a: MountInfo; b: MountInfo }> {
    const set = await this.format('set', formatArgs);
    const a = await this.mount('a', set, 'a', ['--notify', notify]);
    const b = await this.mount('b', set, 'b', ['--notify', notify]);
    return { set, a, b };
  }

  /**
   * Ends the processes this lab started, unmounts what it mounted, removes
   * its folder; then throws if a mount or a process of this lab survived.
   */
  async cleanup(): Promise<void> {
    // Children first: one blocked in a channel would hold a descriptor open.
    for (const p of this.procs) {
      if (p.running && !p.child.spawnargs.includes('--foreground')) p.kill('SIGKILL');
    }
    await Promise.all(
      [...this.mountpoints].filter(isMounted).map(async (mnt) => {
        await new Proc(process.execPath, [CLI, 'unmount', '--force', mnt], { env: this.env, timeoutMs: 20_000 }).done;
        if (isMounted(mnt)) await new Proc('umount', ['-l', mnt], { timeoutMs: 10_000 }).done;
      }),
    );
    for (const p of this.procs) p.kill('SIGKILL');
    // Daemons of this lab: the ones we were told about, and any process
    // whose command line names this lab's unique folder.
    const daemons = new Set([...this.pids, ...processesMentioning(this.dir)]);
    for (const pid of daemons) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await Promise.all([...this.procs].map((p) => within(p.done, 10_000, `process ${p.pid}`).catch(() => undefined)));
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && [...daemons].some(isAlive)) await delay(50);
    const leftMounts = [...this.mountpoints].filter(isMounted);
    for (const mnt of leftMounts) await new Proc('umount', ['-l', mnt], { timeoutMs: 10_000 }).done;
    const leftPids = processesMentioning(this.dir);
    if (leftMounts.length === 0) await fsp.rm(this.dir, { recursive: true, force: true });
    this.procs.clear();
    this.mountpoints.clear();
    this.pids.clear();
    if (leftMounts.length > 0 || leftPids.length > 0) {
      throw new Error(`left behind: mounts ${JSON.stringify(leftMounts)}, processes ${JSON.stringify(leftPids)}`);
    }
  }
}

/** A Lab for a describe block, cleaned up after its last test whatever happened. */
export function useLab(tag: string): () => Lab {
  let lab: Lab | undefined;
  before(() => {
    lab = new Lab(tag);
  });
  after(async function () {
    this.timeout(60_000);
    if (lab) await lab.cleanup();
    lab = undefined;
  });
  return () => {
    if (!lab) throw new Error('lab used outside its describe block');
    return lab;
  };
}

/**
 * The prelude of most integration files: a Lab, a formatted set and both
 * sides mounted before the first test; A() and B() are the mounts, a(name)
 * and b(name) a channel's path on each side.
 */
export function usePair(tag: string, notify: 'futex' | 'poll' = 'futex', formatArgs?: string[]) {
  const lab = useLab(tag);
  const mounts: { a?: MountInfo; b?: MountInfo } = {};
  before(async function () {
    this.timeout(30_000);
    Object.assign(mounts, await lab().pair(notify, formatArgs));
  });
  const A = () => mounts.a!;
  const B = () => mounts.b!;
  return { lab, A, B, a: (name: string) => path.join(A().mountpoint, name), b: (name: string) => path.join(B().mountpoint, name) };
}

/** The names a mount lists (sorted), behind a time limit. */
export async function listing(mountpoint: string): Promise<string[]> {
  return (await within(fsp.readdir(mountpoint), 10_000, `readdir ${mountpoint}`)).sort();
}

export function statOf(file: string): Promise<fs.Stats> {
  return within(fsp.stat(file), 10_000, `stat ${file}`);
}

/** mknod NAME p with the coreutils tool, as a user types it; asserts success. */
export async function mkfifo(lab: Lab, file: string, umask = '022'): Promise<void> {
  const r = await lab.sh('umask "$2"; exec mknod "$1" p', [file, umask], { timeoutMs: 10_000 }).done;
  if (r.code !== 0) throw new Error(`mknod ${file} p failed (${r.code}): ${r.stderr}`);
}
