// `intervmfs status`: sides attached, channels, bytes moved, read from the
// control memsection (so it works from either side, or from the host).
import { ChannelInfo, Geometry, Memsections, SideInfo } from '../native';
import { formatSize } from './sizes';
import { Beat, watchHeartbeats } from '../timing';

export interface SideStatus extends SideInfo {
  name: 'a' | 'b';
  /** attached, and its heartbeat moved while we watched */
  alive: boolean;
}

export interface StatusReport {
  memsections: string;
  geometry: Geometry;
  sides: SideStatus[];
  channels: ChannelInfo[];
}

/** The two sides' heartbeats, keyed 'a' and 'b' (with what status shows of each). */
export function sideBeats(ms: Memsections): (Beat & SideInfo)[] {
  return ms.sides().map((s, i) => ({ ...s, key: i === 0 ? 'a' : 'b' }));
}

export async function collectStatus(ms: Memsections, given: string): Promise<StatusReport> {
  const { alive, last } = await watchHeartbeats(() => sideBeats(ms));
  const sides = (['a', 'b'] as const).map((name) => {
    const { key: _key, ...s } = last.get(name)!;
    return { ...s, name, alive: alive.has(name) };
  });
  return { memsections: given, geometry: ms.geometry(), sides, channels: ms.channels() };
}

export function renderStatus(r: StatusReport): string {
  const g = r.geometry;
  const lines = [
    `memsection set ${r.memsections}`,
    `  ${g.capacity} channels of ${formatSize(g.ringSize)} per direction; data memsections ${formatSize(g.dataSize)} each`,
    'sides:',
  ];
  for (const s of r.sides) {
    const state = s.alive ? 'attached' : s.attached ? 'attached but not responding' : 'detached';
    const who = s.epoch > 0 ? ` pid ${s.pid} on ${s.host || '?'}, notify ${s.notify}${s.notify === 'doorbell' ? ` (peer id ${s.doorbellId})` : ''}, mount #${s.epoch}` : '';
    lines.push(`  ${s.name}: ${state}${who}`);
  }
  // Wake-ups: each side counts the times its peer rang its bell.
  lines.push(`  wake-ups: a rung ${r.sides[0].bellsRung} times, b rung ${r.sides[1].bellsRung} times`);
  const live = r.channels.filter((c) => c.state !== 'corrupt' && !c.corrupt);
  lines.push(`channels: ${live.filter((c) => c.state === 'live').length} of ${g.capacity}`);
  for (const c of r.channels) {
    if (c.corrupt) {
      lines.push(`  slot ${c.slot}: CORRUPT (${c.why})`);
      continue;
    }
    const [ab, ba] = c.rings;
    lines.push(
      `  ${c.name}${c.state === 'unlinked' ? ' (unlinked, still open)' : ''}: ` +
        `a->b ${ab.head} bytes (${ab.head - ab.tail} queued), b->a ${ba.head} bytes (${ba.head - ba.tail} queued), ` +
        `open on a ${c.sideOpen[0]}, on b ${c.sideOpen[1]}`,
    );
    lines.push(`    operations: a->b ${ab.writeOps} writes, ${ab.readOps} reads; b->a ${ba.writeOps} writes, ${ba.readOps} reads`);
  }
  return lines.join('\n');
}
