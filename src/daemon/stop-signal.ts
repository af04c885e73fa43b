// Foreground processes (a mount with --foreground, the doorbell server) run
// until one of these signals, then clean up.
import { Logger } from '../log';

/** Resolves at the first SIGINT, SIGTERM or SIGHUP, logging which. */
export function untilStopSignal(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
  });
}
