// Where a path of a mount leads. A classic mount is one folder of channels
// (the root); an area mount's root holds a folder per other peer present,
// each the channels of that pair's memsection set. The operations ask this,
// so the handlers are the same for both.
import { Memsections } from '../native';
import { Directory } from './directory';

/** A folder of channels: one memsection set, seen from our side. */
export interface Folder {
  ms: Memsections;
  directory: Directory;
}

export type Place =
  | { kind: 'root' } // an area mount's root: the peers
  | { kind: 'folder'; folder: Folder }
  | { kind: 'channel'; folder: Folder; name: string }
  | { kind: 'not-a-peer' }; // a name in an area mount's root that is no peer present

export interface Namespace {
  resolve(path: string): Place | undefined;
  /** The names in an area mount's root; empty for a classic mount. */
  peers(): string[];
  /** The root's modification time. */
  rootChangedMs(): number;
  folders(): Folder[];
}

/** A classic mount: the root is the set's one folder. */
export function singleFolder(folder: Folder): Namespace {
  return {
    resolve(path) {
      if (path === '/') return { kind: 'folder', folder };
      if (path.indexOf('/', 1) !== -1) return undefined;
      return { kind: 'channel', folder, name: path.slice(1) };
    },
    peers: () => [],
    rootChangedMs: () => folder.ms.tableChangedMs(),
    folders: () => [folder],
  };
}

/** An area mount: `/peer` is the folder shared with that peer, while it is present. */
export function peerFolders(folderOf: (peer: string) => Folder | undefined, present: () => string[], changedMs: () => number): Namespace {
  return {
    resolve(path) {
      if (path === '/') return { kind: 'root' };
      const parts = path.slice(1).split('/');
      if (parts.length > 2) return undefined;
      const folder = present().includes(parts[0]) ? folderOf(parts[0]) : undefined;
      if (!folder) return parts.length === 1 ? { kind: 'not-a-peer' } : undefined;
      return parts.length === 1 ? { kind: 'folder', folder } : { kind: 'channel', folder, name: parts[1] };
    },
    peers: present,
    rootChangedMs: changedMs,
    folders: () => present().map(folderOf).filter((f): f is Folder => f !== undefined),
  };
}
