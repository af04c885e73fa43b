// What an area mount serves: this peer's mapping in the area's registry
// entry, and one ServedSide per other peer of the area (the pair's
// memsection set), each a folder named after that peer. A peer that
// attaches later is served as soon as the registry shows it: at the next
// heartbeat, or at once when a path of the mount needs it.
import os from 'os';
import { addon, AreaInfo, AreaRegistry, AreaRouter, DoorbellHub, NotifyMode } from '../native';
import { Logger } from '../log';
import { AreaAttachOptions, attachArea, openRegistry } from '../areas/registry';
import { MemsectionSpec } from '../memsections/locate';
import { Directory } from '../fs/directory';
import { Folder, Namespace, peerFolders } from '../fs/namespace';
import { ServedSide } from './served-side';
import { openDeviceDoorbell } from './doorbell';

interface ServedPair {
  side: ServedSide;
  folder: Folder;
}

export class AreaMount {
  readonly router: AreaRouter = new addon.AreaRouter();
  private reg?: AreaRegistry;
  private areaIndex = 0;
  private peerSlot = 0;
  private epoch = 0;
  private seenVersion = -1;
  private present: string[] = [];
  private readonly pairs = new Map<string, ServedPair>();
  private lostName = false;
  private hub?: DoorbellHub;

  constructor(
    private readonly spec: MemsectionSpec,
    private readonly area: AreaAttachOptions,
    private readonly notify: NotifyMode,
    private readonly spinUs: number,
    private readonly log: Logger,
    private readonly onDoorbellRelease: (release: () => void) => void,
  ) {}

  async start(): Promise<{ created: boolean; area: AreaInfo }> {
    const reg = openRegistry(this.spec);
    this.reg = reg;
    // On an ivshmem device, one doorbell for all our pairs: each peer rings
    // our peer id, the hub wakes the pair whose bell moved.
    const doorbellId = openDeviceDoorbell(
      this.spec,
      this.notify,
      this.log,
      {
        open: (first, bdf) => {
          this.hub = bdf ? new addon.DoorbellHub(first, bdf) : new addon.DoorbellHub(first);
          return this.hub.ownId();
        },
        test: (ms) => this.hub!.test(ms),
      },
      this.onDoorbellRelease,
    );
    const r = await attachArea(reg, { ...this.area, doorbellId }, os.hostname(), process.pid);
    this.areaIndex = r.area.index;
    this.peerSlot = r.peerSlot;
    this.epoch = r.epoch;
    this.refresh();
    return { created: r.created, area: r.area };
  }

  get me(): string {
    return this.area.peer;
  }

  namespace(): Namespace {
    return peerFolders(
      (peer) => this.pairs.get(peer)?.folder,
      () => {
        this.refresh(); // cheap unless the registry changed: then a peer that just came is served now
        return this.present;
      },
      () => this.reg?.changedMs() ?? 0,
    );
  }

  /** Serves the pairs the registry shows with us, once each; updates who is present. */
  private refresh(): void {
    const reg = this.reg;
    if (!reg) return;
    const version = reg.version();
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    const area = reg.areas().find((a) => a.index === this.areaIndex && a.id === this.area.id);
    if (!area || area.corrupt) {
      if (area?.corrupt) this.log.error({ area: this.area.id, why: area.why }, 'the registry entry of our area is corrupt; serving the pairs we have');
      return;
    }
    for (const pair of area.pairs) {
      const i = pair.names.indexOf(this.me);
      if (i < 0) continue;
      const other = pair.names[1 - i];
      if (this.pairs.has(other)) continue;
      this.servePair(other, i as 0 | 1, pair.regionOffset, area.pairSize);
    }
    this.present = area.peers.map((p) => p.name).filter((n) => n !== this.me && this.pairs.has(n)).sort();
  }

  private servePair(other: string, sideIndex: 0 | 1, offset: number, size: number): void {
    let side: ServedSide | undefined;
    try {
      // A view into the registry's mapping, not a new mmap: in a guest, a
      // pair carved after another of the guest's mounts had bound the device
      // to vfio-pci could not be served from a fresh sysfs mapping of the BAR
      // (test:vm's doorbell round), and one mapping serves every pair anyway.
      const ms = new addon.Memsections(this.reg!.region(), offset, size);
      if (this.hub) ms.useDoorbellHub(this.hub.handle());
      side = new ServedSide(ms, sideIndex, { peer: other }, this.log);
      side.attach(this.notify, this.spinUs);
      const folder = { ms, directory: new Directory(ms, this.log) };
      this.router.add(other, ms.fuseHooks());
      this.pairs.set(other, { side, folder });
      this.log.info({ peer: other, side: sideIndex === 0 ? 'a' : 'b', offset, size }, 'serving the pair');
    } catch (err) {
      // A damaged pair set must not take the other pairs down: that folder stays away.
      side?.finish();
      this.log.error({ peer: other, err: (err as Error).message }, 'cannot serve the pair');
    }
  }

  /** One heartbeat: ours in the registry and in every pair; new peers are served. */
  tick(nowMs: number): void {
    if (this.reg && !this.reg.heartbeat(this.areaIndex, this.peerSlot, this.epoch) && !this.lostName) {
      this.lostName = true;
      this.log.warn({ area: this.area.id, peer: this.me }, 'our mapping in the registry was taken back by a new mount of our name (we were judged dead)');
    }
    this.refresh();
    for (const p of this.pairs.values()) p.side.tick(nowMs);
  }

  stopEngines(): number {
    let left = 0;
    for (const p of this.pairs.values()) left += p.side.stopEngine();
    return left;
  }

  /** After the unmount: every pair detaches, then our mapping ends. */
  finish(): void {
    for (const p of this.pairs.values()) p.side.finish();
    this.pairs.clear();
    if (this.reg) {
      if (!this.lostName) this.reg.detach(this.areaIndex, this.peerSlot, this.epoch);
      this.reg.close();
      this.reg = undefined;
    }
    this.hub?.close(); // the sets let go of it as they closed: the device's files close now
    this.hub = undefined;
  }
}
