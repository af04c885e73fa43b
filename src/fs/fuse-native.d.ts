// Types for the parts of fuse-native (as patched by patches/) that intervmfs
// uses. The patch adds `options` (extra -o mount options), `nativeHooks`
// (the addon's hook table) and `Fuse.caller()`.
declare module 'fuse-native' {
  export interface Callback {
    (code: number, ...results: unknown[]): void;
  }
  export interface Stat {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    nlink: number;
    mtime: Date;
    atime: Date;
    ctime: Date;
  }
  export interface Operations {
    init?(cb: Callback): void;
    statfs?(path: string, cb: Callback): void;
    getattr?(path: string, cb: Callback): void;
    fgetattr?(path: string, fd: number, cb: Callback): void;
    readdir?(path: string, cb: Callback): void;
    open?(path: string, flags: number, cb: Callback): void;
    release?(path: string, fd: number, cb: Callback): void;
    read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Callback): void;
    write?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Callback): void;
    mknod?(path: string, mode: number, dev: number, cb: Callback): void;
    unlink?(path: string, cb: Callback): void;
    create?(path: string, mode: number, cb: Callback): void;
    mkdir?(path: string, mode: number, cb: Callback): void;
    rmdir?(path: string, cb: Callback): void;
    rename?(src: string, dest: string, cb: Callback): void;
    link?(src: string, dest: string, cb: Callback): void;
    symlink?(src: string, dest: string, cb: Callback): void;
    truncate?(path: string, size: number, cb: Callback): void;
    ftruncate?(path: string, fd: number, size: number, cb: Callback): void;
    utimens?(path: string, atime: number, mtime: number, cb: Callback): void;
    chmod?(path: string, mode: number, cb: Callback): void;
    chown?(path: string, uid: number, gid: number, cb: Callback): void;
    flush?(path: string, fd: number, cb: Callback): void;
    fsync?(path: string, datasync: number, fd: number, cb: Callback): void;
    setxattr?(...args: unknown[]): void;
  }
  export interface FuseOptions {
    timeout?: number | false;
    mkdir?: boolean;
    force?: boolean;
    debug?: boolean;
    displayFolder?: boolean;
    options?: string[];
    /** intervmfs patch: the addon's hook table (Memsections.fuseHooks()), tried before JavaScript. */
    nativeHooks?: unknown;
  }
  class Fuse {
    constructor(mnt: string, ops: Operations, opts?: FuseOptions);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    /** The uid, gid and pid of the process whose request the running handler serves (call it synchronously), or null. */
    static caller(): { uid: number; gid: number; pid: number } | null;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    static isConfigured(cb: (err: Error | null, yes: boolean) => void): void;
  }
  export default Fuse;
}
