// One side of one memsection set served by this daemon: attached with its
// FIFO engine and notifier, its heartbeat kept and its peer watched. A
// classic mount serves one; an area mount one per other peer of the area.
import os from 'os';
import { Memsections, NotifyMode, SideInfo } from '../native';
import { Logger } from '../log';
import { explainCorruption } from '../memsections/check';
import { sideBeats } from '../memsections/status';
import { watchHeartbeats } from '../timing';
import { tracer } from '../trace/tracer';
import { PeerState, PeerWatch } from './peer-watch';

/**
 * Who serves a side now, if anyone alive does (its heartbeat moves): a
 * mount and the library ask before they claim one. Only that side is
 * watched: claiming one beside a live peer does not wait.
 */
export async function liveHolder(ms: Memsections, side: 'a' | 'b'): Promise<SideInfo | undefined> {
  const { alive, last } = await watchHeartbeats(() => sideBeats(ms).filter((b) => b.key === side));
  return alive.has(side) ? last.get(side) : undefined;
}

export class ServedSide {
  private readonly watch = new PeerWatch();
  private peerState: PeerState = 'absent';
  private attached = false;
  /** With a port transport: its last state and error as logged. */
  private portSeen?: string;
  epoch = 0;

  constructor(
    readonly ms: Memsections,
    readonly sideIndex: 0 | 1,
    /** What the log calls it: the side, or the peer at the other end. */
    private readonly label: Record<string, unknown>,
    private readonly log: Logger,
  ) {}

  /**
   * Claims the side (the caller checked that nobody alive serves it) and
   * starts waking its waiters. `reportCorruption`: log why a channel is
   * answered EIO, before the answer; the addon waits for that log line on
   * the JavaScript thread, so a side whose requests run on that thread (the
   * library) goes without.
   */
  attach(notify: NotifyMode, spinUs: number, reportCorruption = true): number {
    const { ms, log } = this;
    const onCorrupt = (slot: number, generation: number, during: string) => {
      const why = explainCorruption(ms, slot, generation);
      log.error({ ...this.label, slot, during, why }, 'channel state is corrupt or the slot was reused; answering EIO');
    };
    this.epoch = ms.attach(this.sideIndex, notify, process.pid, os.hostname(), Date.now(), {
      spinUs,
      trace: tracer.enabled,
      onCorrupt: reportCorruption ? onCorrupt : undefined,
    });
    this.attached = true;
    ms.startNotifier(tracer.enabled ? () => tracer.add('wakeup', 0) : undefined);
    ms.heartbeat();
    return this.epoch;
  }

  /** The set is a private copy kept in step over `link` (mount --port); before attach. */
  openPort(link: string): void {
    this.ms.openPort(link);
    this.portSeen = '';
    this.log.info({ ...this.label, port: link }, 'port transport: our set is a private copy, kept in step with the peer over the port');
  }

  /** One heartbeat: ours goes up, the peer's is watched (a dead peer's channels end). */
  tick(nowMs: number): void {
    const { ms } = this;
    ms.heartbeat();
    if (this.portSeen !== undefined) this.logPort();
    const seen = this.watch.observe(ms.sides()[1 - this.sideIndex], nowMs);
    if (seen === this.peerState) return;
    this.log[seen === 'dead' ? 'warn' : 'info']({ ...this.label, peer: seen }, seen === 'dead' ? 'peer stopped beating: its channels end' : 'peer state');
    this.peerState = seen;
    ms.setPeerDead(seen === 'dead');
  }

  /** A port's session changes and errors, each once, in the daemon's log. */
  private logPort(): void {
    const p = this.ms.portState();
    const key = `${p.state}\n${p.lastError}`;
    if (key === this.portSeen) return;
    const newError = p.lastError !== '' && !this.portSeen?.endsWith(`\n${p.lastError}`);
    this.portSeen = key;
    if (newError) this.log.error({ ...this.label, port: p.state }, `port: ${p.lastError}`);
    else this.log.info({ ...this.label, port: p.state }, 'port state');
  }

  /** Whether the peer stopped beating while attached (killed, crashed), not detached cleanly. */
  get peerDied(): boolean {
    return this.peerState === 'dead';
  }

  /** Answers every waiting request; returns the requests still inside after 1 s. */
  stopEngine(): number {
    return this.attached ? this.ms.stopEngine() : 0;
  }

  /** After the unmount: the notifier stops, the side detaches, the mapping goes. */
  finish(): void {
    if (this.attached) {
      this.ms.stopNotifier();
      this.ms.detach();
    }
    this.ms.close();
  }
}
