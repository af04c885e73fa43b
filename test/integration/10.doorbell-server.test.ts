// intervmfs doorbell-server speaks QEMU's ivshmem protocol: a Python client
// plays two QEMU devices (test/integration/ivshmem-client.py) and we check
// what each is told, that the eventfds it hands out connect the two, and
// what the server refuses. The guests' own use of it is in test/vm.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { ROOT, useLab, waitUntil } from './mounts';

interface Message {
  value: number;
  fd: boolean;
  ino: number | null;
}
interface ClientReport {
  a_first: Message[];
  b_first: Message[];
  a_after_b: Message[];
  b_rings_a: boolean;
  a_after_b_left: Message[];
}

const CLIENT = path.join(ROOT, 'test', 'integration', 'ivshmem-client.py');

describe('integration: doorbell server (QEMU ivshmem protocol)', function () {
  this.timeout(30_000);
  const lab = useLab('doorbell');

  function region(name: string, size: number): string {
    const file = lab().path(name);
    fs.writeFileSync(file, '');
    fs.truncateSync(file, size);
    return file;
  }

  it('gives each peer its id, the region and eventfds that ring the other peer, and tells of joins and departures', async () => {
    const shm = region('shm', 1 << 20);
    const sock = lab().path('doorbell.sock');
    const server = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', shm]);
    await waitUntil(() => fs.existsSync(sock), 10_000, 'the server socket');
    const r = await lab().proc('python3', [CLIENT, sock]).done;
    expect(r.code, r.stderr).to.equal(0);
    const rep = JSON.parse(r.stdout) as ClientReport;
    const shmIno = fs.statSync(shm).ino;
    // version 0, own id 0, -1 with the region, then own id with its eventfd
    expect(rep.a_first.map((m) => [m.value, m.fd])).to.deep.equal([[0, false], [0, false], [-1, true], [0, true]]);
    expect(rep.a_first[2].ino, 'the descriptor is the region file').to.equal(shmIno);
    // B: id 1, the region, A's eventfd (to ring A), then its own
    expect(rep.b_first.map((m) => [m.value, m.fd])).to.deep.equal([[0, false], [1, false], [-1, true], [0, true], [1, true]]);
    expect(rep.a_after_b.map((m) => [m.value, m.fd]), 'A learns of B with an eventfd to ring it').to.deep.equal([[1, true]]);
    expect(rep.b_rings_a, "a write to B's eventfd for A wakes A's own").to.equal(true);
    expect(rep.a_after_b_left.map((m) => [m.value, m.fd]), 'A learns that B left').to.deep.equal([[1, false]]);
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
    dead.kill('SIGKILL');
    await dead.done;
    expect(fs.existsSync(sock), 'a killed server leaves its socket').to.equal(true);
    const again = lab().cliProc(['doorbell-server', '--socket', sock, '--memsections', shm]);
    await waitUntil(() => again.stderrSoFar.includes('serving'), 10_000, 'the new server to listen');
    const r = await lab().proc('python3', [CLIENT, sock]).done;
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as ClientReport).a_first[0].value, 'protocol version').to.equal(0);
    again.kill('SIGTERM');
    expect((await again.done).code).to.equal(0);
  });
});
