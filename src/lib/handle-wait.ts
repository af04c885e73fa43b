// Waiting for one engine handle in the event loop, with no thread of its
// own: after -EAGAIN the handle's poll is armed (the peer then rings our
// side's bell on its next progress, which comes back as the side's one
// onReady) and the call is retried when that comes. One immediate retry
// when the arming poll shows the handle ready already (the peer moved
// between the call and the arming); after that only onReady or the side's
// re-check, so a handle that polls ready yet answers -EAGAIN (a write held
// while every reader is inside close()) does not spin. Disarmed as soon as
// its call completes: a paused reader is not woken by the peer's progress.
import { SideChannels } from '../native';

/** Where waits park: the side whose onReady wakes them. */
export interface WaitHost {
  readonly channels: SideChannels;
  park(w: HandleWait): void;
  unpark(w: HandleWait): void;
}

export class HandleWait {
  private armed = false;
  private retry?: () => void;

  constructor(
    private readonly host: WaitHost,
    readonly handle: number,
  ) {}

  /** The call answered -EAGAIN: true to retry it at once, else `retry` runs once the handle may be ready. */
  again(retry: () => void): boolean {
    if (!this.armed) {
      this.armed = true;
      if (this.host.channels.poll(this.handle, true) !== 0) return true;
    }
    this.retry = retry;
    this.host.park(this);
    return false;
  }

  /** The side heard that readiness may have changed: the parked call is retried (and parks again if it must). */
  wake(): void {
    const retry = this.retry;
    this.retry = undefined;
    this.host.unpark(this);
    retry?.();
  }

  /** The call completed, or the handle goes: no more wake-ups for it. */
  done(): void {
    this.retry = undefined;
    this.host.unpark(this);
    if (this.armed) this.host.channels.disarm(this.handle);
    this.armed = false;
  }
}
