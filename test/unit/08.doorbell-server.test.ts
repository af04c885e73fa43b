// The addon's doorbell server speaks QEMU's ivshmem protocol: a Python
// client plays two QEMU devices (test/fixtures/ivshmem-client.py) and we
// check what each is told, that the eventfds handed out connect the two,
// and the events the server reports. Runs under the sanitizer build too.
// The CLI around it: test/integration/10.doorbell-server.test.ts.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { addon, DoorbellServer } from '../../src/native';
import { Message, runClient } from '../fixtures/ivshmem-client';
import { thrown, useScratch } from './helpers';

const pairs = (ms: Message[]) => ms.map((m) => [m.value, m.fd]);

describe('doorbell server (QEMU ivshmem protocol)', function () {
  this.timeout(20_000);
  const scratch = useScratch();
  let server: DoorbellServer | undefined;
  afterEach(() => server?.close());

  it('gives each peer its id, the region and eventfds that ring the other peer, and tells of joins and departures', async () => {
    const shm = scratch.region(1 << 20);
    const socket = path.join(path.dirname(shm), 'doorbell.sock');
    const events: string[] = [];
    server = new addon.DoorbellServer(socket, shm, 1, (kind, id) => events.push(`${kind} ${id}`));
    expect(server.shmSize).to.equal(1 << 20);
    const rep = await runClient(socket);
    // version 0, own id 0, -1 with the region, then own id with its eventfd
    expect(pairs(rep.a_first)).to.deep.equal([[0, false], [0, false], [-1, true], [0, true]]);
    expect(rep.a_first[2].ino, 'the descriptor is the region file').to.equal(fs.statSync(shm).ino);
    // B: id 1, the region, A's eventfd (to ring A), then its own
    expect(pairs(rep.b_first)).to.deep.equal([[0, false], [1, false], [-1, true], [0, true], [1, true]]);
    expect(pairs(rep.a_after_b), 'A learns of B with an eventfd to ring it').to.deep.equal([[1, true]]);
    expect(rep.b_rings_a, "a write to B's eventfd for A wakes A's own").to.equal(true);
    expect(pairs(rep.a_after_b_left), 'A learns that B left').to.deep.equal([[1, false]]);
    for (let i = 0; i < 50 && events.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    expect(events.slice(0, 3)).to.deep.equal(['connected 0', 'connected 1', 'disconnected 1']);
  });

  it('refuses a region whose size is not a power of two, naming it', () => {
    const shm = scratch.region(3 << 20);
    const err = thrown(() => new addon.DoorbellServer(path.join(path.dirname(shm), 's'), shm, 1, () => undefined));
    expect(err.code).to.equal('EIVFS_DOORBELL_SERVER');
    expect(err.message).to.include(`the shared memory ${shm} must be a file whose size is a power of two`);
  });
});
