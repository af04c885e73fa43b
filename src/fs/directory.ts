// The mount's single directory: a cached view of the shared channel table.
// The cache is keyed by the table version the addon bumps at every change,
// so both mounts see a mknod or unlink of the other at the next lookup.
import { ChannelInfo, Memsections } from '../native';
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

  lookup(name: string): ChannelInfo | undefined {
    this.refresh();
    return this.byName.get(name);
  }

  list(): ChannelInfo[] {
    this.refresh();
    return [...this.byName.values()];
  }
}

/** "/name" -> "name"; undefined for the root or for nested paths. */
export function channelName(path: string): string | undefined {
  if (path === '/' || path.indexOf('/', 1) !== -1) return undefined;
  return path.slice(1);
}
