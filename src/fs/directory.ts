// The mount's single directory: a view of the shared channel table. A
// lookup asks the addon's name index (one probe); the listing is a cached
// copy of the whole table, keyed by the table version the addon bumps at
// every change, so both mounts see a mknod or unlink of the other at once.
import { ChannelInfo, ChannelSummary, Memsections } from '../native';
import { Logger } from '../log';

export class Directory {
  private version = -1;
  private byName = new Map<string, ChannelInfo>();
  private reported = new Set<string>();

  constructor(
    private readonly ms: Memsections,
    private readonly log: Logger,
  ) {}

  private refresh(): void {
    const version = this.ms.tableVersion();
    if (version === this.version) return;
    const byName = new Map<string, ChannelInfo>();
    for (const c of this.ms.channels()) {
      if (c.corrupt) {
        const key = `${c.slot}:${c.why}`;
        if (!this.reported.has(key)) this.log.error({ slot: c.slot, why: c.why }, 'channel table entry is corrupt; hiding it');
        this.reported.add(key);
        continue;
      }
      if (c.state === 'live') byName.set(c.name, c);
    }
    this.byName = byName;
    this.version = version;
  }

  lookup(name: string): ChannelSummary | undefined {
    return this.ms.lookupChannel(name);
  }

  list(): ChannelInfo[] {
    this.refresh();
    return [...this.byName.values()];
  }
}
