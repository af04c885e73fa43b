// One mounted side's FIFO engine, driven the way libfuse drives it: each
// read or write runs on a thread of its own and may sleep there; an
// AbortSignal plays FUSE_INTERRUPT. The scenes in the tests read as a
// program on either VM would live them.
import { Memsections } from '../../src/native';

export interface ChannelRef {
  slot: number;
  generation: number;
  name: string;
}

export type Reply = (result: number) => void;

export class EngineSide {
  constructor(readonly ms: Memsections) {}

  /** A descriptor handle, or a negative errno. */
  open(ch: ChannelRef, flags: number): number {
    return this.ms.engineOpen(ch.slot, ch.generation, flags);
  }

  release(fd: number): number {
    return this.ms.engineRelease(fd);
  }

  /** close(2) as FUSE sees it: flush now, release later. */
  flush(fd: number): number {
    return this.ms.engineFlush(fd);
  }

  read(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal, flags = -1): void {
    this.call('read', fd, buf, length, reply, signal, flags);
  }

  write(fd: number, buf: Buffer, length: number, reply: Reply, signal?: AbortSignal, flags = -1): void {
    this.call('write', fd, buf, length, reply, signal, flags);
  }

  /** Requests sleeping in the engine. */
  get waiting(): number {
    return this.ms.engineState()?.waiting ?? 0;
  }

  /** Resolves once `n` requests wait in the engine (the test's timeout bounds it). */
  async untilWaiting(n: number): Promise<void> {
    while (this.waiting < n) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** What the daemon does at unmount: every waiting request is answered, later ones get EIO. */
  stop(): void {
    this.ms.stopEngine();
  }

  private call(op: 'read' | 'write', fd: number, buf: Buffer, length: number, reply: Reply, signal: AbortSignal | undefined, flags: number): void {
    let done = false;
    const onAbort = () => {
      if (!done) this.ms.engineInterrupt(id);
    };
    const finish = (result: number) => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
      reply(result);
    };
    const id = op === 'read' ? this.ms.engineRead(fd, buf, length, flags, finish) : this.ms.engineWrite(fd, buf, length, flags, finish);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }
}
