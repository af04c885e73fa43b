// Liveness of the other side, read from the control memsection: a peer that
// is attached but whose heartbeat stopped has died without detaching (kill -9,
// a crashed guest). Its open counts then never drop, so without this its
// readers and writers would keep ours waiting forever.
import type { SideInfo } from '../native';
import { PEER_DEAD_MS } from '../timing';

export type PeerState = 'alive' | 'absent' | 'dead';

export class PeerWatch {
  private beat = -1;
  private epoch = -1;
  private movedAt = 0;

  /** Feeds one reading of the peer's side state; returns what it shows. */
  observe(peer: SideInfo, nowMs: number): PeerState {
    if (!peer.attached) return 'absent'; // detached cleanly: its counts were reset
    if (peer.heartbeat !== this.beat || peer.epoch !== this.epoch) {
      this.beat = peer.heartbeat;
      this.epoch = peer.epoch;
      this.movedAt = nowMs;
    }
    return nowMs - this.movedAt > PEER_DEAD_MS ? 'dead' : 'alive';
  }
}
