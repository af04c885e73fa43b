// The intervmfs doorbell-server command: it serves (the protocol itself is
// checked in test/unit/08.doorbell-server.test.ts), refuses what it cannot
// serve, takes over a stale socket and removes its own at SIGTERM. The
// guests' own use of it is in test/vm.
import { expect } from 'chai';
import fs from 'fs';
import { useLab, waitUntil } from './mounts';
import { runClient } from '../fixtures/ivshmem-client';

describe('integration: doorbell server (QEMU ivshmem protocol)', function () {
  this.timeout(30_000);
  const lab = useLab('doorbell');

  function region(name: string, size: number): string {
    const file = lab().path(name);
    fs.writeFileSync(file, '');
    fs.truncateSync(file, size);
    return file;
  }

  it('serves QEMU devices until SIGTERM, then removes its socket', async () => {
    const shm = region('shm', 1 << 20);
    const sock = lab().path('doorbell.sock');
    const server = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', shm]);
    await waitUntil(() => fs.existsSync(sock), 10_000, 'the server socket');
    const rep = await runClient(sock);
    expect(rep.a_first[2].ino, 'it hands out the region file').to.equal(fs.statSync(shm).ino);
    expect(rep.b_rings_a, 'the second guest can ring the first').to.equal(true);
    expect(server.stderrSoFar, 'a note that the region is not formatted yet').to.include(`guests cannot mount ${shm} yet`);
    server.kill('SIGTERM');
    const end = await server.done;
    expect(end.code).to.equal(0);
    expect(fs.existsSync(sock), 'the socket is removed at SIGTERM').to.equal(false);
  });

  it('refuses a region whose size is not a power of two, a missing region, and a socket already served', async () => {
    const odd = region('odd', 3 << 20);
    let r = await lab().cli(['doorbell-server', '--socket', lab().path('s1'), '--memsections', odd]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('must be a file whose size is a power of two');
    r = await lab().cli(['doorbell-server', '--socket', lab().path('s2'), '--memsections', lab().path('none')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('does not exist; give --size');
    const sock = lab().path('busy.sock');
    const first = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', region('shm2', 1 << 20)]);
    await waitUntil(() => fs.existsSync(sock), 10_000, 'the first server socket');
    r = await lab().cli(['doorbell-server', '--socket', sock, '--memsections', region('shm3', 1 << 20)]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(`a server already listens on ${sock}`);
    first.kill('SIGTERM');
    expect((await first.done).code).to.equal(0);
  });

  it('takes over a socket left by a server that died, and creates a region with --size', async () => {
    const sock = lab().path('stale.sock');
    const shm = lab().path('made');
    const dead = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', shm, '--size', '1M', '--channels', '4']);
    await waitUntil(() => fs.existsSync(sock), 10_000, 'the first server socket');
    expect(fs.statSync(shm).size).to.equal(1 << 20);
    expect(dead.stderrSoFar, 'the region it made is formatted').not.to.include('guests cannot mount');
    dead.kill('SIGKILL');
    await dead.done;
    expect(fs.existsSync(sock), 'a killed server leaves its socket').to.equal(true);
    const again = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', shm]);
    await waitUntil(() => again.stderrSoFar.includes('serving'), 10_000, 'the new server to listen');
    expect((await runClient(sock)).a_first[0].value, 'protocol version').to.equal(0);
    again.kill('SIGTERM');
    expect((await again.done).code).to.equal(0);
  });
});
