// An area region's registry as the commands and the daemon use it: format,
// attach with the liveness rule for names, removal with the liveness rule
// for areas. The registry itself (layout, lock, validation) is native
// (native/area_registry.cc); this file adds the waiting that needs a clock.
import fs from 'fs';
import { addon, AreaAttachRequest, AreaAttachResult, AreaInfo, AreaPeer, AreaRegistry, Memsections } from '../native';
import { asUserError, UserError } from '../errors';
import { Beat, watchHeartbeats } from '../timing';
import { MemsectionSpec } from '../memsections/locate';
import { sizeFile } from '../memsections/format';
import { formatSize } from '../memsections/sizes';

export function openRegistry(spec: MemsectionSpec): AreaRegistry {
  if (spec.kind !== 'region') throw new UserError(`areas live in one region (a file such as /dev/shm/intervmfs-areas, or an ivshmem device); ${spec.given} is a folder`);
  try {
    return new addon.AreaRegistry(spec.paths[0]);
  } catch (err) {
    return asUserError(err);
  }
}

/** Whether --memsections names an area region (by its magic). */
export function isAreaRegion(spec: MemsectionSpec): boolean {
  return spec.kind === 'region' && addon.AreaRegistry.isAreaRegion(spec.paths[0]);
}

/** `format --areas`: creates the file with `size` if missing, writes an empty registry. */
export async function formatAreaRegion(spec: MemsectionSpec, opts: { size?: number; force: boolean }): Promise<number> {
  const file = spec.kind === 'region' ? spec.paths[0] : spec.given;
  if (spec.kind === 'folder' && fs.existsSync(spec.given)) {
    throw new UserError(`${spec.given} is a folder; areas live in one region: name a file (it is created with --size) or an ivshmem device`);
  }
  if (!fs.existsSync(file)) {
    if (!opts.size) throw new UserError(`region ${file} does not exist; give --size to create it (e.g. --size 256M)`);
    if (opts.size < addon.constants.registrySize + 4096) {
      throw new UserError(`--size ${formatSize(opts.size)} cannot hold the registry (${formatSize(addon.constants.registrySize)}) and an area`);
    }
    sizeFile(file, opts.size);
  } else if (opts.size && fs.statSync(file).size !== opts.size) {
    throw new UserError(`region ${file} exists with ${formatSize(fs.statSync(file).size)}; --size ${formatSize(opts.size)} only creates a missing file`);
  }
  if (opts.force && addon.AreaRegistry.isAreaRegion(file)) await refuseIfAnyAlive(spec);
  try {
    addon.AreaRegistry.format(file, opts.force);
  } catch (err) {
    return asUserError(err);
  }
  return fs.statSync(file).size;
}

async function refuseIfAnyAlive(spec: MemsectionSpec): Promise<void> {
  const reg = openRegistry(spec);
  try {
    const { alive } = await watchPeers(reg, reg.areas());
    if (alive.length > 0) throw new UserError(`region ${spec.given} is in use by ${describePeers(alive)}; unmount them before formatting`);
  } finally {
    reg.close();
  }
}

export interface AreaAttachOptions {
  id: number;
  peer: string;
  areaSize?: number;
  pairSize?: number;
  channels?: number;
  doorbellId?: number;
}

/**
 * Attaches `peer` to area `id` (creating it if new). A name already attached
 * is taken back only when its heartbeat stands still for the liveness
 * period, as a side is; otherwise refused, naming its holder.
 */
export async function attachArea(reg: AreaRegistry, o: AreaAttachOptions, host: string, pid: number): Promise<AreaAttachResult> {
  const request: AreaAttachRequest = { ...o, host, pid, nowMs: Date.now() };
  // Only our name's holder is watched: a mount next to live peers does not wait.
  const holder = (await watchPeers(reg, reg.areas().filter((a) => a.id === o.id && !a.corrupt), o.peer)).last.get(peerKey(o.id, o.peer));
  if (holder && !holder.alive) request.takeOverHeartbeat = holder.heartbeat;
  try {
    return reg.attach({ ...request, nowMs: Date.now() });
  } catch (err) {
    return asUserError(err);
  }
}

export interface LivePeer extends AreaPeer {
  area: number;
  alive: boolean;
}

const peerKey = (area: number, name: string) => `${area}/${name}`;

/** The mappings of `areas` (of the peer `only`, if given), watched for the liveness period: each with whether its heartbeat moved. */
export async function watchPeers(reg: AreaRegistry, areas: AreaInfo[], only?: string): Promise<{ last: Map<string, LivePeer>; alive: LivePeer[] }> {
  const ids = new Set(areas.map((a) => a.id));
  const read = (): (Beat & AreaPeer & { area: number })[] =>
    reg
      .areas()
      .filter((a) => ids.has(a.id) && !a.corrupt)
      .flatMap((a) => a.peers.filter((p) => only === undefined || p.name === only).map((p) => ({ ...p, area: a.id, key: peerKey(a.id, p.name), attached: true })));
  const { alive, last } = await watchHeartbeats(read);
  const peers = new Map<string, LivePeer>();
  for (const [key, b] of last) {
    const { key: _k, attached: _a, ...p } = b;
    peers.set(key, { ...p, alive: alive.has(key) });
  }
  return { last: peers, alive: [...peers.values()].filter((p) => p.alive) };
}

export function describePeers(peers: AreaPeer[]): string {
  return peers.map((p) => `${p.name} (pid ${p.pid} on ${p.host || 'an unknown host'})`).join(', ');
}

/** `area rm`: refused while a live peer has it attached; a dead peer's mapping goes with it. */
export async function removeArea(reg: AreaRegistry, id: number): Promise<{ stale: AreaPeer[] }> {
  const area = reg.areas().find((a) => a.id === id);
  if (!area) throw new UserError(`area ${id} does not exist; \`intervmfs status\` lists the areas`);
  const version = reg.version();
  const { alive } = await watchPeers(reg, [area]);
  if (alive.length > 0) throw new UserError(`area ${id} is in use by ${describePeers(alive)}; unmount them first`);
  if (reg.version() !== version) throw new UserError(`the registry changed while we watched area ${id}; try again`);
  try {
    reg.remove(id, version);
  } catch (err) {
    return asUserError(err);
  }
  return { stale: area.peers };
}

export interface PairSet {
  /** The peer at the other end, as seen from `me`; both names without `me`. */
  names: [string, string];
  sideIndex: 0 | 1;
  ms: Memsections;
}

/**
 * Opens the memsection sets of an area's pairs (those with `me` in them,
 * or all), for status and unmount; the caller closes each. A pair whose
 * set cannot be opened is skipped: status reports it by its `error`.
 */
export function openPairSets(reg: AreaRegistry, area: AreaInfo, me?: string): (PairSet | { names: [string, string]; error: string })[] {
  const out: (PairSet | { names: [string, string]; error: string })[] = [];
  for (const pair of area.pairs) {
    if (me !== undefined && !pair.names.includes(me)) continue;
    try {
      // Views into the registry's mapping, as a mount's are (area-mount.ts).
      const ms = new addon.Memsections(reg.region(), pair.regionOffset, area.pairSize);
      out.push({ names: pair.names, sideIndex: me === pair.names[1] ? 1 : 0, ms });
    } catch (err) {
      out.push({ names: pair.names, error: (err as Error).message });
    }
  }
  return out;
}
