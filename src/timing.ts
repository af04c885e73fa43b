// Every interval and threshold of the TypeScript side, once, with why its
// value; the native side's are in native/timing.h. And the one way of
// telling whether a daemon is alive: its heartbeat moves.
import { addon } from './native';

// Liveness is defined once, in native/timing.h (with why each value), since
// the C library's holders and a mount's judge each other by it.
function liveness(name: 'heartbeatMs' | 'livenessWatchMs' | 'peerDeadMs'): number {
  const ms = addon.constants[name];
  if (typeof ms !== 'number') throw new Error(`the native addon has no ${name}: it is older than this intervmfs; rebuild it with npm run build:native`);
  return ms;
}
/** A serving daemon bumps its heartbeats (side state, area mapping) this often. */
export const HEARTBEAT_MS = liveness('heartbeatMs');
/** A holder still recorded as attached is watched this long (four beats) before it is called dead or alive. */
export const LIVENESS_WATCH_MS = liveness('livenessWatchMs');
/** A peer whose heartbeat stands still this long is dead: its readers and writers end (EOF, EPIPE). */
export const PEER_DEAD_MS = liveness('peerDeadMs');
/** How long a ring of our own doorbell may take to come back as an interrupt (TCG guests are slow). */
export const DOORBELL_TEST_MS = 3000;
/** unmount: how long the daemon has to end after SIGTERM (it answers waiters, unmounts, detaches), then after SIGKILL. */
export const UNMOUNT_WAIT_MS = 10_000;
export const UNMOUNT_KILL_WAIT_MS = 2_000;
/** A foreground daemon that served and cleaned up exits at the latest this long after, whatever holds its event loop. */
export const EXIT_GRACE_MS = 1000;
/**
 * A library stream waiting on a channel (src/lib) re-checks it on its own
 * this often, as the engine's waiters do on their tick (kEngineTickMs in
 * native/timing.h). Only a safety net, and the end of a write's grace for
 * readers inside close() that never release (closingWaitMs): the peer's
 * progress wakes a waiting stream through the side's notifier.
 */
export const CHANNEL_RECHECK_MS = 1000;
/** The tracer rewrites its snapshot this often (INTERVMFS_TRACE). */
export const TRACE_WRITE_MS = 1000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One heartbeat as read from shared memory, keyed by whatever names its owner. */
export interface Beat {
  key: string;
  attached: boolean;
  heartbeat: number;
  epoch: number;
}

/**
 * Reads the heartbeats twice, LIVENESS_WATCH_MS apart (once when nothing is
 * attached): `alive` holds the keys whose heartbeat or epoch moved, `last`
 * the second reading.
 */
export async function watchHeartbeats<T extends Beat>(read: () => T[]): Promise<{ alive: Set<string>; last: Map<string, T> }> {
  const before = read();
  if (!before.some((b) => b.attached)) return { alive: new Set(), last: new Map(before.map((b) => [b.key, b])) };
  await sleep(LIVENESS_WATCH_MS);
  const after = read();
  const then = new Map(before.map((b) => [b.key, b]));
  const alive = new Set(
    after
      .filter((b) => {
        const p = then.get(b.key);
        return b.attached && p !== undefined && (p.heartbeat !== b.heartbeat || p.epoch !== b.epoch);
      })
      .map((b) => b.key),
  );
  return { alive, last: new Map(after.map((b) => [b.key, b])) };
}
