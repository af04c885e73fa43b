// `intervmfs status`: sides attached, channels, bytes moved, read from the
// control memsection (so it works from either side, or from the host).
import { ChannelInfo, Geometry, Memsections, SideInfo } from '../native';
import { formatSize } from './sizes';
import { Beat, watchHeartbeats } from '../timing';
import { parseListenName } from '../lib/handle-names';

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
  handles: HandleStatus[];
}

/** A handle of the library's servers (src/lib/server.ts), from its listen channel. */
export interface HandleStatus {
  handle: string;
  /** The side that listens; clients connect from the other. */
  side: 'a' | 'b';
  /** Its listener is there: the side is attached and reads the listen channel (else a dead program's leftover). */
  listening: boolean;
}

export function handlesOf(channels: ChannelInfo[], sides: SideStatus[]): HandleStatus[] {
  const out: HandleStatus[] = [];
  for (const c of channels) {
    const l = c.state === 'live' && !c.corrupt ? parseListenName(c.name) : undefined;
    if (!l) continue;
    const toListener = l.side === 'a' ? c.rings[1] : c.rings[0]; // rings[0] carries a -> b
    const alive = sides.find((s) => s.name === l.side)?.alive ?? false;
    out.push({ ...l, listening: alive && toListener.readersOpen > 0 });
  }
  return out;
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
  const channels = ms.channels();
  return { memsections: given, geometry: ms.geometry(), sides, channels, handles: handlesOf(channels, sides) };
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
  lines.push(wakeUps(r.sides, ['a', 'b'], '  '));
  const live = r.channels.filter((c) => c.state !== 'corrupt' && !c.corrupt);
  lines.push(`channels: ${live.filter((c) => c.state === 'live').length} of ${g.capacity}`);
  lines.push(...channelLines(r.channels, ['a', 'b'], '  '));
  if (r.handles.length > 0) lines.push('handles:');
  for (const h of r.handles) {
    const peer = h.side === 'a' ? 'b' : 'a';
    lines.push(`  ${h.handle}: ${h.listening ? `listened on by side ${h.side}, for clients on side ${peer}` : `left by side ${h.side}, nobody listening`}`);
  }
  return lines.join('\n');
}

/** Wake-ups: each side counts the times its peer rang its bell. */
export function wakeUps(sides: SideInfo[], names: [string, string], indent: string): string {
  return `${indent}wake-ups: ${names[0]} rung ${sides[0].bellsRung} times, ${names[1]} rung ${sides[1].bellsRung} times`;
}

/** A set's channels as status shows them; `names` are side a's and side b's. */
export function channelLines(channels: ChannelInfo[], names: [string, string], indent: string): string[] {
  const [a, b] = names;
  const lines: string[] = [];
  for (const c of channels) {
    if (c.corrupt) {
      lines.push(`${indent}slot ${c.slot}: CORRUPT (${c.why})`);
      continue;
    }
    const [ab, ba] = c.rings;
    lines.push(
      `${indent}${c.name}${c.state === 'unlinked' ? ' (unlinked, still open)' : ''}: ` +
        `${a}->${b} ${ab.head} bytes (${ab.head - ab.tail} queued), ${b}->${a} ${ba.head} bytes (${ba.head - ba.tail} queued), ` +
        `open on ${a} ${c.sideOpen[0]}, on ${b} ${c.sideOpen[1]}`,
    );
    lines.push(`${indent}  operations: ${a}->${b} ${ab.writeOps} writes, ${ab.readOps} reads; ${b}->${a} ${ba.writeOps} writes, ${ba.readOps} reads`);
  }
  return lines;
}
