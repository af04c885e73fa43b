// `intervmfs chat`: two people, one on each side, exchange lines over one
// channel in both directions; when one leaves, the other is told and ends.
import { expect } from 'chai';
import { spawn } from 'child_process';
import path from 'path';
import { CLI, mkfifo, usePair, waitUntil, within } from './mounts';

describe('integration: chat', function () {
  this.timeout(30_000);
  const { lab, A, B } = usePair('chat');

  function chatter(mnt: string, name: string) {
    const child = spawn(process.execPath, [CLI, 'chat', path.join(mnt, 'room'), '--name', name], { stdio: ['pipe', 'pipe', 'pipe'] });
    const seen = { out: '', err: '' };
    child.stdout.on('data', (d) => (seen.out += d));
    child.stderr.on('data', (d) => (seen.err += d));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, seen, done };
  }

  it('carries lines both ways, and ends the other side when one leaves', async () => {
    await mkfifo(lab(), path.join(A().mountpoint, 'room'));
    const alice = chatter(A().mountpoint, 'alice');
    const bob = chatter(B().mountpoint, 'bob');
    try {
      await waitUntil(() => alice.seen.err.includes('Ctrl-D') && bob.seen.err.includes('Ctrl-D'), 10_000, 'both chats started');
      alice.child.stdin.write('hello from a\n');
      await waitUntil(() => bob.seen.out.includes('alice: hello from a\n'), 10_000, "alice's line at bob");
      bob.child.stdin.write('hi from b\n');
      await waitUntil(() => alice.seen.out.includes('bob: hi from b\n'), 10_000, "bob's line at alice");
      expect(alice.seen.out, 'alice does not see her own line').not.to.include('alice:');

      alice.child.stdin.end(); // Ctrl-D
      expect(await within(alice.done, 10_000, 'alice leaving')).to.equal(0);
      expect(await within(bob.done, 10_000, 'bob told that alice left')).to.equal(0);
      expect(bob.seen.err).to.include('(the other side left)');
    } finally {
      alice.child.kill('SIGKILL');
      bob.child.kill('SIGKILL');
    }
  });
});
