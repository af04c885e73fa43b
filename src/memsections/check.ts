// `intervmfs check`: what in a memsection set is damaged. The header is
// checked when the set is opened (a damaged header refuses to open, with the
// reason); this looks at everything a peer writes while running: side
// states, the table lock and every channel's entry and ring indices. It only
// reads, so it is safe while both sides are mounted.
import { ChannelInfo, Geometry, Memsections, SideInfo } from '../native';

/** More descriptors than any one side could hold open: a count that wrapped or was scribbled. */
const OPEN_COUNT_LIMIT = 1 << 20;

export interface Finding {
  where: string;
  problem: string;
}

function checkSide(s: SideInfo, name: string): Finding[] {
  const out: Finding[] = [];
  if (s.attached && s.epoch === 0) out.push({ where: `side ${name}`, problem: 'attached but never mounted (epoch 0)' });
  if (s.notify === 'unknown') out.push({ where: `side ${name}`, problem: 'notifier is none of poll, futex, doorbell (the peer cannot tell how to wake it)' });
  if (s.doorbellId > 0xffff) out.push({ where: `side ${name}`, problem: `doorbell peer id ${s.doorbellId} is beyond 65535` });
  return out;
}

function checkRing(g: Geometry, c: ChannelInfo, dir: 0 | 1): Finding[] {
  const r = c.rings[dir];
  const where = `channel ${JSON.stringify(c.name)} (slot ${c.slot}) ${dir === 0 ? 'a->b' : 'b->a'}`;
  const out: Finding[] = [];
  if (r.head < r.tail) out.push({ where, problem: `head ${r.head} is behind tail ${r.tail}` });
  else if (r.head - r.tail > g.ringSize) out.push({ where, problem: `${r.head - r.tail} bytes queued in a ring of ${g.ringSize}` });
  if (r.writersOpen > OPEN_COUNT_LIMIT) out.push({ where, problem: `writer count ${r.writersOpen} is impossible` });
  if (r.readersOpen > OPEN_COUNT_LIMIT) out.push({ where, problem: `reader count ${r.readersOpen} is impossible` });
  return out;
}

export function checkChannel(g: Geometry, c: ChannelInfo): Finding[] {
  if (c.corrupt) return [{ where: `slot ${c.slot}`, problem: c.why ?? 'corrupt entry' }];
  const out = [...checkRing(g, c, 0), ...checkRing(g, c, 1)];
  c.sideOpen.forEach((n, i) => {
    if (n > OPEN_COUNT_LIMIT) out.push({ where: `channel ${JSON.stringify(c.name)} (slot ${c.slot})`, problem: `side ${'ab'[i]} open count ${n} is impossible` });
  });
  return out;
}

export function checkMemsections(ms: Memsections): Finding[] {
  const g = ms.geometry();
  const sides = ms.sides();
  return [...checkSide(sides[0], 'a'), ...checkSide(sides[1], 'b'), ...ms.channels().flatMap((c) => checkChannel(g, c))];
}

export function renderFindings(given: string, findings: Finding[]): string {
  if (findings.length === 0) return `${given}: header, sides and channel table are consistent`;
  return [`${given}: ${findings.length} problem${findings.length === 1 ? '' : 's'} found`, ...findings.map((f) => `  ${f.where}: ${f.problem}`)].join('\n');
}

/** Why the engine found a channel's state impossible, in words for the log (as `check` would say it). */
export function explainCorruption(ms: Memsections, slot: number, generation: number): string {
  const entry = ms.channels().find((c) => c.slot === slot);
  if (!entry) return 'the slot is free now';
  if (entry.generation !== generation) return `the slot holds generation ${entry.generation}, not ${generation}`;
  return checkChannel(ms.geometry(), entry).map((f) => `${f.where}: ${f.problem}`).join('; ') || 'indices changed while read';
}
