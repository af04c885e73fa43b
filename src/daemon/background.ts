// `intervmfs mount` without --foreground: start the daemon detached (like
// sshfs) and return once it reports the filesystem ready, or fail with its
// error. The daemon reports on an extra pipe (fd 3) and logs to a file.
import { spawn } from 'child_process';
import fs from 'fs';
import { UserError } from '../errors';

export const READY_FD_ENV = 'INTERVMFS_READY_FD';

export async function startBackground(args: string[], logFile: string): Promise<number> {
  const log = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args, '--foreground'], {
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
