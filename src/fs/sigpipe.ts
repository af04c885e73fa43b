// A kernel pipe raises SIGPIPE in a writer that finds no reader, so `yes > fifo`
// ends when the reader goes. A FUSE filesystem can only answer EPIPE; the
// daemon raises the signal itself, before the answer, so the process sees the
// signal first exactly as with a pipe (and only EPIPE when it ignores it).

import type { Logger } from '../log';

export function raiseSigpipe(pid: number, log: Logger): void {
  if (!(pid > 0)) return; // 0: the kernel did not say (a request from another pid namespace)
  try {
    process.kill(pid, 'SIGPIPE');
  } catch (err) {
    log.debug({ err, pid }, 'could not raise SIGPIPE in the writer');
  }
}
