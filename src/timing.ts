// How the daemons tell that a peer is alive: one heartbeat period, and the
// two ways of judging a heartbeat that stands still.
/** A serving daemon bumps its heartbeat this often (side state, area mapping). */
export const HEARTBEAT_MS = 250;
/**
 * Before a side or a peer name is taken from a holder that is still
 * recorded as attached, its heartbeat is watched this long (four beats): a
 * live holder moves it, a dead one does not.
 */
export const PEER_STALE_MS = 1000;
/**
 * A peer serving the other side of a channel whose heartbeat stands still
 * this long is dead: its readers and writers end (EOF, EPIPE). Longer than
 * PEER_STALE_MS, since ending channels under a peer that was only slow
 * (a busy TCG guest) loses its data in flight.
 */
export const PEER_DEAD_MS = 3000;
