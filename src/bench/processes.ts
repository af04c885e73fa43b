// Whether a bench daemon still runs, and a synchronous pause: teardown must
// also work from process 'exit', where nothing asynchronous runs any more.
import fs from 'fs';

/** Running: not gone and not a zombie (one that its parent, Node or init, has not reaped yet). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')'); // the command name may contain spaces and parentheses
    return stat.slice(close + 2, close + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const pauseSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
