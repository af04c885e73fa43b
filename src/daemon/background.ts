// `intervmfs mount` without --foreground: start the daemon detached (like
// sshfs) and return once it reports the filesystem ready, or fail with its
// error. The daemon reports on an extra pipe (fd 3) and logs to a file.
import { spawn } from 'child_process';
import fs from 'fs';
import { UserError } from '../errors';

export const READY_FD_ENV = 'INTERVMFS_READY_FD';

/**
 * V8 flags of the daemon. Its JavaScript answers only the namespace (mknod,
 * unlink, readdir, the root's getattr); the data path is native. V8 grows a
 * busy process's young generation step by step up to 16 MiB per semi-space
 * (32 MiB in all) and gives it back only now and then, so rounds of mknod
 * and rm alone took a daemon from 12 to about 30 MiB resident (test/soak)
 * with nothing leaked: after a full GC the heap in use stayed at 5 MiB. A
 * 1 MiB semi-space (V8's starting size) bounds that, at no measurable cost
 * in CPU. The flag works only on the command line (v8.setFlagsFromString
 * comes too late), so a daemon run with --foreground gets it from
 * NODE_OPTIONS (docs/intervmfs@.service).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

/** The daemon's node flags: ours, unless the caller's set the same one. */
export function daemonExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  const flagName = (f: string) => f.split('=')[0].replace(/_/g, '-');
  const extra = DAEMON_NODE_FLAGS.filter((f) => !given.some((g) => flagName(g) === flagName(f)));
  return [...extra, ...execArgv];
}

export async function startBackground(args: string[], logFile: string): Promise<number> {
  const log = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [...daemonExecArgv(process.execArgv, process.env.NODE_OPTIONS), process.argv[1], ...args, '--foreground'], {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  fs.closeSync(log);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let said = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (d: string) => (said += d));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const closed = new Promise<void>((resolve) => pipe.once('close', () => resolve()));
  await Promise.race([closed, exited]);
  if (said.startsWith('ready')) {
    child.unref();
    (pipe as unknown as { destroy(): void }).destroy();
    return child.pid as number;
  }
  const code = await exited;
  const message = said.replace(/^error:\s*/, '').trim() || `the daemon exited with status ${code}; see ${logFile}`;
  throw new UserError(message);
}

/** In the daemon: tells the waiting parent how the start went. */
export function reportToParent(message: string): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!fd) return;
  try {
    fs.writeSync(fd, message + '\n');
    fs.closeSync(fd);
  } catch {
    // The parent is gone; nothing to tell.
  }
  delete process.env[READY_FD_ENV];
}
