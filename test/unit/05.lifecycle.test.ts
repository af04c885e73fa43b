// Mounting and unmounting a side: what the peer sees when a side attaches,
// detaches or comes back after a crash, and what happens to calls made on
// an instance that was closed. Calls that could crash the process run in a
// child process, so a crash fails one test instead of the whole run.
import path from 'path';
import { spawnSync } from 'child_process';
import { expect } from 'chai';
import { NotifyMode } from '../../src/native';
import { EngineSide, O_RDONLY, O_RDWR, O_WRONLY } from './engine-side';
import { delay, L, lockOwner, SIDE_A, SIDE_B, useScratch, writeU64 } from './helpers';

const nativeModule = path.resolve(__dirname, '../../src/native');
const engineSideModule = path.resolve(__dirname, 'engine-side');
const EPIPE = -32;

/** Resolves once `cond` holds (the test's timeout bounds the wait). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await delay(2);
}

/**
 * Runs `body` in a fresh Node with `addon` and `paths` (an attached side a
 * and side b, `a` and `b`, over the set, and `engine`, side a's FIFO engine
 * as an EngineSide) in scope; returns how it ended.
 */
function inChild(paths: string[], body: string) {
  const script = `
    const { addon } = require(${JSON.stringify(nativeModule)});
    const { EngineSide } = require(${JSON.stringify(engineSideModule)});
    const paths = ${JSON.stringify(paths)};
    const a = new addon.Memsections(paths);
    const b = new addon.Memsections(paths);
    a.attach(0, 'poll', process.pid, 'child-a', Date.now());
    const epochB = b.attach(1, 'poll', process.pid, 'child-b', Date.now());
    const engine = new EngineSide(a);
    const report = (what) => process.stdout.write(JSON.stringify(what) + '\\n');
    (async () => { ${body} })().then(() => process.exit(0), (err) => { report({ failed: String(err) }); process.exit(3); });
  `;
  // Run in the set's temp folder: a core dump, if any, goes away with it.
  const r = spawnSync(process.execPath, ['-e', script], { cwd: path.dirname(paths[0]), encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('side lifecycle', () => {
  const s = useScratch();

  it('counts mounts of a side in its epoch and shows the peer who is attached', () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    const watcher = s.open(paths);
    expect(a.attach(SIDE_A, 'futex', 4242, 'host-a', 1_700_000_000_000)).to.equal(1);
    const [sa, sb] = watcher.sides();
    expect(sa).to.include({ attached: true, epoch: 1, pid: 4242, host: 'host-a', notify: 'futex', mountedAtMs: 1_700_000_000_000 });
    expect(sb.attached).to.equal(false);
    a.detach();
    expect(watcher.sides()[0].attached).to.equal(false);
    expect(s.open(paths).attach(SIDE_A, 'poll', 1, 'again', Date.now())).to.equal(2);
  });

  it('keeps only the first 31 bytes of a long host name', () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    a.attach(SIDE_A, 'poll', 1, 'h'.repeat(100), Date.now());
    expect(a.sides()[0].host).to.equal('h'.repeat(31));
  });

  it('moves the heartbeat the peer watches', () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    const b = s.open(paths);
    a.attach(SIDE_A, 'poll', 1, 'a', Date.now());
    const before = b.sides()[0].heartbeat;
    a.heartbeat();
    a.heartbeat();
    expect(b.sides()[0].heartbeat).to.equal(before + 2);
  });

  it("forgets the open counts of an earlier mount of the side when it mounts again: the peer's reader ends, its writer gets EPIPE", async () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    const b = s.open(paths);
    // futex: the peer's waiters are woken directly, no notifier thread needed;
    // a long tick, so a lost wake-up hangs instead of being rescued.
    a.attach(SIDE_A, 'futex', 1, 'a', Date.now(), { tickMs: 60_000 });
    b.attach(SIDE_B, 'futex', 1, 'b', Date.now(), { tickMs: 60_000 });
    const { slot, generation } = await a.createChannel('c', 0o600, 0, 0, 0);
    const ch = { slot, generation, name: 'c' };
    const A = new EngineSide(a);
    const B = new EngineSide(b);
    A.open(ch, O_RDWR); // then side a's daemon dies, this descriptor with it
    const br = B.open(ch, O_RDONLY);
    const bw = B.open(ch, O_WRONLY);
    expect(await B.writeAsync(bw, Buffer.from('x')), 'a reader of side a is attached').to.equal(1);
    expect(b.channels()[0].sideOpen).to.deep.equal([1, 2]);
    const reading = B.readAsync(br, 10);
    await B.untilWaiting(1); // a writer of side a is attached: the reader waits

    const again = s.open(paths);
    again.attach(SIDE_A, 'futex', 2, 'a', Date.now());
    const [c] = b.channels();
    expect(c.sideOpen).to.deep.equal([0, 2]);
    expect(c.rings[0].writersOpen).to.equal(0);
    expect(c.rings[1].readersOpen).to.equal(0);
    expect((await reading).n, 'the waiting reader gets end of file').to.equal(0);
    expect(await B.writeAsync(bw, Buffer.from('y')), 'the writer gets EPIPE').to.equal(EPIPE);
    B.stop();
    A.stop();
  });

  it('gives a writer on the peer EPIPE when the reading side detaches', async () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    const b = s.open(paths);
    a.attach(SIDE_A, 'poll', 1, 'a', Date.now());
    b.attach(SIDE_B, 'poll', 1, 'b', Date.now());
    const { slot, generation } = await a.createChannel('c', 0o600, 0, 0, 0);
    const B = new EngineSide(b);
    const ch = { slot, generation, name: 'c' };
    const A = new EngineSide(a);
    A.open(ch, 0);
    const w = B.open(ch, 1);
    const write = () => new Promise<number>((resolve) => B.write(w, Buffer.from('x'), 1, resolve));
    expect(await write()).to.equal(1);
    a.detach();
    expect(await write()).to.equal(-32);
  });

  describe('notifier', () => {
    /** Side a and side b of a fresh set, a channel, and a counter of side a's wake-ups. */
    async function scene(mode: NotifyMode) {
      const { paths } = s.formatted();
      const a = s.open(paths);
      const b = s.open(paths);
      a.attach(SIDE_A, mode, process.pid, 'a', Date.now());
      b.attach(SIDE_B, mode, process.pid, 'b', Date.now());
      const { slot, generation } = await a.createChannel('c', 0o600, 0, 0, 0);
      const wakeups = { count: 0 };
      const B = new EngineSide(b);
      /** The peer does what side a may wait for, a reader coming and going: it rings a's bell. */
      const peerRings = () => {
        const fd = B.open({ slot, generation, name: 'c' }, O_RDONLY);
        if (fd <= 0 || B.release(fd) !== 0) throw new Error(`open answered ${fd}`);
      };
      const start = () => a.startNotifier(() => wakeups.count++);
      return { a, b, wakeups, peerRings, start };
    }

    for (const mode of ['futex', 'poll'] as const) {
      describe(`in ${mode} mode`, () => {
        it('calls back when the peer rings', async () => {
          const sc = await scene(mode);
          sc.start();
          await delay(100); // the notifier thread is asleep by now
          sc.peerRings();
          await until(() => sc.wakeups.count >= 1); // the test's timeout bounds it
        });

        it('does not lose a ring that lands right after startNotifier() returned', async () => {
          const sc = await scene(mode);
          sc.start();
          sc.peerRings(); // e.g. the peer's reader drained the ring just now
          await until(() => sc.wakeups.count >= 1); // a lost ring: the test times out
        });

        it('coalesces a burst of rings into one or two callbacks', async () => {
          const sc = await scene(mode);
          sc.start();
          await delay(100);
          for (let i = 0; i < 100; i++) sc.peerRings();
          await until(() => sc.wakeups.count >= 1);
          await delay(300); // what is not coalesced would come meanwhile
          expect(sc.wakeups.count).to.be.within(1, 2);
        });

        it('calls back no more after stopNotifier()', async () => {
          const sc = await scene(mode);
          sc.start();
          await delay(100);
          sc.a.stopNotifier();
          sc.peerRings();
          await delay(300); // a callback would come meanwhile (the positive tests above see one)
          expect(sc.wakeups.count).to.equal(0);
        });
      });
    }

    it('refuses a second startNotifier() while one runs', async () => {
      const sc = await scene('poll');
      sc.start();
      expect(() => sc.start()).to.throw(/already running/);
    });
  });

  describe('a closed instance', function () {
    this.timeout(15_000);

    for (const call of [
      'a.channels()',
      "a.createChannel('x', 0o600, 0, 0, 0)",
      "a.unlinkChannel('x')",
      "a.setChannelAttributes('x', { mode: 0o600 }, 0)",
      'a.detach()',
      "engine.open({ slot: 0, generation: 1, name: 'x' }, 0)",
      "engine.openName('x', 0)",
      'engine.readAsync(1, 10)',
      "engine.writeAsync(1, Buffer.from('x'))",
      'engine.poll(1, true)',
      'engine.flush(1)',
      'engine.release(1)',
    ]) {
      it(`refuses ${call.replace(/\(.*\)/, '()')} with an error instead of crashing the process`, () => {
        const { paths } = s.formatted();
        const r = inChild(
          paths,
          `a.close();
           try { await ${call}; report({ answered: true }); } catch (err) { report({ threw: err.message }); }`,
        );
        expect(r.signal, `the process died of ${r.signal}`).to.equal(null);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout, 'the call came back').to.match(/"(threw|answered)"/);
      });
    }

    it('closing while a table operation waits for the lock does not crash the process', () => {
      const { paths } = s.formatted();
      // Side b holds the table lock and its heartbeat is frozen: side a's
      // create waits ~2 s for it to be declared dead. Close a meanwhile.
      writeU64(paths[0], L.tableLock, lockOwner(SIDE_B, 1));
      const r = inChild(
        paths,
        `const op = a.createChannel('x', 0o600, 0, 0, 0).then(() => 'resolved', (e) => 'rejected: ' + e.message);
         await new Promise((r) => setTimeout(r, 100));
         a.close();
         report({ closed: true, op: await op });`,
      );
      expect(r.signal, `the process died of ${r.signal}`).to.equal(null);
      expect(r.status, r.stderr).to.equal(0);
    });

    it('closing while a read waits in the FIFO engine answers it EIO and does not crash the process', () => {
      const { paths } = s.formatted();
      const r = inChild(
        paths,
        `const made = await a.createChannel('x', 0o600, 0, 0, 0);
         const ch = { slot: made.slot, generation: made.generation, name: 'x' };
         new EngineSide(b).open(ch, 1);
         const fd = engine.open(ch, 0);
         const read = engine.readAsync(fd, 10);
         await engine.untilWaiting(1);
         a.close();
         report({ read: (await read).n });`,
      );
      expect(r.signal, `the process died of ${r.signal}`).to.equal(null);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include('{"read":-5}');
    });
  });

  it('leaves no waiting request unanswered when the service shuts down', async () => {
    const { paths } = s.formatted();
    const a = s.open(paths);
    const b = s.open(paths);
    a.attach(SIDE_A, 'poll', 1, 'a', Date.now());
    b.attach(SIDE_B, 'poll', 1, 'b', Date.now());
    const { slot, generation } = await a.createChannel('c', 0o600, 0, 0, 0);
    const B = new EngineSide(b);
    const ch = { slot, generation, name: 'c' };
    const r = B.open(ch, 0);
    const answers: number[] = [];
    const answered = (count: number) => new Promise<void>((resolve) => {
      const check = () => (answers.length >= count ? resolve() : setImmediate(check));
      check();
    });
    B.read(r, Buffer.alloc(10), 10, (n) => answers.push(n));
    B.read(r, Buffer.alloc(10), 10, (n) => answers.push(n));
    await B.untilWaiting(2);
    expect(answers, 'both wait on the empty ring').to.deep.equal([]);
    B.stop();
    await answered(2);
    expect(answers).to.deep.equal([-5, -5]);
    B.read(r, Buffer.alloc(10), 10, (n) => answers.push(n));
    await answered(3);
    expect(answers, 'a request after shutdown is answered EIO').to.deep.equal([-5, -5, -5]);
  });
});
