// `intervmfs status` of an area region: the registry as an admin reads it
// (per area its ID, size, owner and every mapping, Xen's
// /local/shared_mem/ID/{owner,size,mappings}), then each pair's channels.
import { AreaInfo, AreaPeer, AreaRegistry, ChannelInfo, SideInfo } from '../native';
import { MemsectionSpec } from '../memsections/locate';
import { formatSize } from '../memsections/sizes';
import { channelLines, wakeUps } from '../memsections/status';
import { openPairSets, watchPeers } from './registry';

export interface MappingStatus extends AreaPeer {
  /** attached, and its heartbeat moved while we watched */
  alive: boolean;
  /** where the area sits in the region, as this peer maps it */
  regionOffset: number;
}

export interface PairStatus {
  names: [string, string];
  regionOffset: number;
  error?: string;
  /** The pair set's two sides (side a is names[0]): attached, bells rung... */
  sides: SideInfo[];
  channels: ChannelInfo[];
}

export interface AreaStatus extends Omit<AreaInfo, 'peers' | 'pairs'> {
  mappings: MappingStatus[];
  pairs: PairStatus[];
}

export interface AreaRegionReport {
  region: string;
  regionSize: number;
  registryVersion: number;
  changedAtMs: number;
  freeBytes: number;
  areas: AreaStatus[];
}

export async function collectAreaStatus(reg: AreaRegistry, spec: MemsectionSpec, regionSize: number, registrySize: number): Promise<AreaRegionReport> {
  const watched = await watchPeers(reg, reg.areas());
  const after = reg.areas();
  const areas = after.map((a): AreaStatus => {
    const { peers, pairs, ...rest } = a;
    const mappings = peers.map((p) => ({ ...p, alive: watched.last.get(`${a.id}/${p.name}`)?.alive ?? false, regionOffset: a.offset }));
    const pairStatus = a.corrupt
      ? []
      : openPairSets(reg, a).map((s): PairStatus => {
          const regionOffset = pairs.find((q) => q.names[0] === s.names[0] && q.names[1] === s.names[1])?.regionOffset ?? 0;
          if (!('ms' in s)) return { names: s.names, regionOffset, error: s.error, sides: [], channels: [] };
          try {
            return { names: s.names, regionOffset, sides: s.ms.sides(), channels: s.ms.channels() };
          } finally {
            s.ms.close();
          }
        });
    return { ...rest, mappings, pairs: pairStatus };
  });
  const used = after.filter((a) => !a.corrupt).reduce((n, a) => n + a.size, 0);
  return {
    region: spec.given,
    regionSize,
    registryVersion: reg.version(),
    changedAtMs: reg.changedMs(),
    freeBytes: Math.max(0, regionSize - registrySize - used),
    areas,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function renderAreaStatus(r: AreaRegionReport): string {
  const lines = [
    `area region ${r.region}: ${formatSize(r.regionSize)}, ${r.areas.length} area${r.areas.length === 1 ? '' : 's'}, ${(r.freeBytes / 2 ** 20).toFixed(1)} MiB free`,
  ];
  if (r.areas.length === 0) lines.push('  no areas yet: the first `intervmfs mount --area ID --peer NAME --area-size SIZE` creates one');
  for (const a of r.areas) {
    if (a.corrupt) {
      lines.push(`area ${a.id}: CORRUPT (${a.why}); remove it with intervmfs area rm --id ${a.id}`);
      continue;
    }
    lines.push(
      `area ${a.id}: ${formatSize(a.size)} at offset ${a.offset} of the region, owner ${a.owner}, created ${iso(a.createdAtMs)}`,
      `  pairs of ${formatSize(a.pairSize)} (${a.pairs.length} of ${a.pairSlots} slots carved), ${a.channels} channels each`,
      `  mappings:${a.mappings.length === 0 ? ' none' : ''}`,
    );
    for (const m of a.mappings) {
      const state = m.alive ? 'attached' : 'attached but not responding';
      lines.push(`    ${m.name}: ${state} since ${iso(m.attachedAtMs)}, pid ${m.pid} on ${m.host || '?'}, area at region offset ${m.regionOffset}`);
    }
    for (const p of a.pairs) {
      lines.push(`  ${p.names[0]} <-> ${p.names[1]} (set at region offset ${p.regionOffset}):${p.error ? ` UNREADABLE (${p.error})` : p.channels.length === 0 ? ' no channels' : ''}`);
      if (p.sides.length === 2) lines.push(wakeUps(p.sides, p.names, '    '));
      lines.push(...channelLines(p.channels, p.names, '    '));
    }
  }
  return lines.join('\n');
}
