// Net-style handles (src/lib/server.ts, connect.ts; decision 0017): a
// server program in a child process listens on side a of a set, and this
// process connects from side b. Checked as a user would: an echo round
// trip with half-close (the client's end() is the server's 'end', and the
// server replies after it), two clients at once on connections of their
// own, ECONNREFUSED and EADDRINUSE, handles checked, garbage on the listen
// channel ignored, close() keeping its connections, connection channels
// gone from the set once both ends closed, and the handle in `status`.
import { expect } from 'chai';
import crypto from 'crypto';
import { ChannelStream, connect, createServer, Server, Socket } from '../../src/lib';
import { openChannel } from '../../src/lib';
import { Proc, ROOT, useLab, within } from './mounts';

const MiB = 1024 * 1024;
// 20 channels (16 connections at once, the listen channel, spare), 16 KiB
// rings: a 1 MiB reply goes round its ring 64 times.
const FORMAT = ['--channels', '20', '--data-size', '320K'];
const HANDLE = 'echo';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

// The server program: every connection's bytes, sent back once the client
// has ended (so it writes after its 'end'), then its own end. It says what
// it sees on stdout, and closes on SIGTERM, exiting by itself after.
const SERVER = `
  const { createServer } = require(${JSON.stringify(ROOT)});
  const [set, handle] = process.argv.slice(1);
  let n = 0;
  const server = createServer({ memsections: set, side: 'a' }, (s) => {
    console.log('connection #' + ++n);
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => {
      const all = Buffer.concat(parts);
      console.log('end ' + all.length);
      s.end(all);
    });
    s.on('error', (e) => console.error('socket error ' + e.code));
  });
  server.on('error', (e) => console.error('server error ' + e.code));
  server.listen(handle, () => console.log('listening ' + server.address()));
  process.on('SIGTERM', () => server.close(() => console.log('closed')));
`;

interface StatusJson {
  channels: { name: string; state: string }[];
  handles: { handle: string; side: string; listening: boolean }[];
}

function connected(s: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
}

function closed(s: ChannelStream): Promise<void> {
  return new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
}

async function readAll(s: ChannelStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of s) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The error an emitter fails with (none: the test fails at its timeout). */
function failure(e: NodeJS.EventEmitter): Promise<Error & { code?: string }> {
  return new Promise((resolve) => e.once('error', resolve));
}

function listened(srv: Server, handle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(handle, resolve);
  });
}

const lines = (p: Proc, prefix: string) => p.stdoutSoFar.split('\n').filter((l) => l.startsWith(prefix));

// The server program's stdout is a pipe, slower than a channel: a reply
// can arrive before the line the server printed ahead of sending it. So
// each test waits for the exact line it expects, counting the server's
// connections itself (`served`), and never reads stdout as it stands.

describe('integration: net-style handles, a server program on side a, clients on side b', function () {
  const lab = useLab('net');
  let set = '';
  let server: Proc | undefined;
  let served = 0; // connections the server program has announced, or will
  const servedOne = async () => server!.waitForOutput(`connection #${++served}\n`, 10_000);
  // Every socket and server this process opens, ended after each test
  // whatever happened, so side a and b are detached before the next.
  const sockets: Socket[] = [];
  const servers: Server[] = [];

  const client = (handle = HANDLE): Socket => {
    const s = connect({ memsections: set, side: 'b', handle });
    s.on('error', () => undefined); // each test asserts the errors it expects
    sockets.push(s);
    return s;
  };
  const localServer = (side: 'a' | 'b', onConnection?: (s: Socket) => void): Server => {
    const srv = createServer({ memsections: set, side }, onConnection);
    srv.on('error', () => undefined);
    servers.push(srv);
    return srv;
  };
  const status = async (): Promise<StatusJson> => {
    const r = await lab().cli(['status', '--memsections', set, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as StatusJson;
  };
  const connectionChannels = (st: StatusJson) => st.channels.filter((c) => c.name.startsWith('.net:c:'));

  before(async function () {
    this.timeout(30_000);
    set = await lab().format('set', FORMAT);
    server = lab().proc(process.execPath, ['-e', SERVER, set, HANDLE], { timeoutMs: 300_000 });
    await server.waitForOutput(`listening ${HANDLE}`, 15_000);
  });
  afterEach(async function () {
    this.timeout(30_000);
    const open = sockets.splice(0);
    for (const s of open) s.destroy();
    const listening = servers.splice(0).filter((s) => s.listening);
    await within(Promise.all([...open.map(closed), ...listening.map((s) => new Promise((ok) => s.close(ok)))]), 10_000, 'closing our sockets and servers');
    expect(server?.stderrSoFar ?? '', 'the server program saw no error').to.equal('');
  });

  it("echoes a round trip: the client's end() is the server's 'end', and the server still replies, then ends", async () => {
    const c = client();
    await connected(c);
    const back = readAll(c);
    c.end('hello, server\n');
    expect((await within(back, 15_000, 'the reply and its end of file')).toString()).to.equal('hello, server\n');
    await servedOne();
    await server!.waitForOutput('end 14\n', 10_000); // the server's socket saw the client's end
    await within(closed(c), 10_000, 'the client socket closing once both halves ended');
  });

  it('gives two clients at once connections of their own: each gets back its own 1 MiB, unmixed', async () => {
    const payloads = [crypto.randomBytes(MiB), crypto.randomBytes(MiB)];
    const cs = payloads.map(() => client());
    const replies = cs.map(readAll);
    // Both write at once, 4 KiB at a time, turn about.
    for (let off = 0; off < MiB; off += 4096) for (const [i, c] of cs.entries()) c.write(payloads[i].subarray(off, off + 4096));
    for (const c of cs) c.end();
    const got = await within(Promise.all(replies), 30_000, 'both replies');
    for (const [i, b] of got.entries()) {
      expect(b.length, `client ${i}'s reply`).to.equal(MiB);
      expect(sha256(b), `client ${i}'s reply is its own bytes`).to.equal(sha256(payloads[i]));
    }
    await servedOne();
    await servedOne();
  });

  it('serves 16 connections at once, each echoing its own 1 MiB (digests compared), and frees their channels after', async () => {
    const payloads = Array.from({ length: 16 }, () => crypto.randomBytes(MiB));
    const cs = payloads.map(() => client());
    const replies = cs.map(readAll);
    for (const [i, c] of cs.entries()) c.end(payloads[i]);
    const got = await within(Promise.all(replies), 60_000, 'all 16 replies');
    for (const [i, b] of got.entries()) expect(sha256(b), `connection ${i}'s reply is its own 1 MiB`).to.equal(sha256(payloads[i]));
    for (let i = 0; i < 16; i++) await servedOne();
    await within(Promise.all(cs.map(closed)), 10_000, 'the 16 sockets closing');
    expect(connectionChannels(await status()), 'no connection channel left').to.deep.equal([]);
  });

  it("keeps a connection's channel only while it is open: unlinked once both ends have it, gone once both closed; status shows the handle", async () => {
    const c = client();
    await connected(c);
    await servedOne();
    const open = connectionChannels(await status());
    expect(open.map((ch) => ch.state), 'the open connection, its name already gone').to.deep.equal(['unlinked']);

    const back = readAll(c);
    c.end();
    await within(back, 10_000, 'the reply');
    await within(closed(c), 10_000, 'the client closing');
    const after = await status();
    expect(connectionChannels(after), 'no connection channel left').to.deep.equal([]);
    expect(after.handles).to.deep.equal([{ handle: HANDLE, side: 'a', listening: true }]);
    const text = await lab().cli(['status', '--memsections', set]);
    expect(text.stdout).to.match(/^handles:\n  echo: listened on by side a, for clients on side b$/m);
  });

  it('refuses a connect to a handle nobody listens on with ECONNREFUSED, and leaves no channel behind', async () => {
    const c = client('nobody-here');
    const err = await within(failure(c), 10_000, 'the refusal');
    expect(err.code).to.equal('ECONNREFUSED');
    expect(err.message).to.include("handle 'nobody-here'");
    await within(closed(c), 10_000, 'the refused socket closing');
    expect(connectionChannels(await status())).to.deep.equal([]);
  });

  it('refuses a second listener of a handle on the same side with EADDRINUSE; the first goes on', async () => {
    const first = localServer('b');
    await within(listened(first, 'twice'), 10_000, 'the first listening');
    const second = localServer('b');
    const failed = failure(second);
    second.listen('twice');
    const err = await within(failed, 10_000, 'the second listen failing');
    expect(err.code).to.equal('EADDRINUSE');
    expect(second.address()).to.equal(null);
    expect(first.address()).to.equal('twice');
  });

  it('throws a TypeError for a handle that is not one, and for a channel name of the handles', () => {
    for (const bad of ['', 'a/b', 'sp ace', 'x'.repeat(100), 42]) {
      expect(() => connect({ memsections: set, side: 'b', handle: bad as string }), `connect to ${String(bad)}`).to.throw(TypeError);
      expect(() => createServer({ memsections: set, side: 'b' }).listen(bad as string), `listen on ${String(bad)}`).to.throw(TypeError);
    }
    expect(() => openChannel({ memsections: set, side: 'b', name: '.net:a:echo', mode: 'w' })).to.throw(TypeError, /handles/);
  });

  it('ignores garbage on the listen channel (an untrusted peer): no event, no crash, and the next client is served', async () => {
    // Written as a hostile program would: straight to the listen channel.
    const raw = new ChannelStream({ memsections: set, side: 'b', name: '.net:a:echo', mode: 'w' });
    raw.write('no newline at all, then a long line ' + 'z'.repeat(600));
    raw.write('\n.net:c:1.1.0123456789abcdef\n'); // well formed, names no channel
    raw.write('\nplain-user-channel\n\n\n');
    raw.end(Buffer.from([0, 0xff, 0x0a, 0xfe]));
    await within(closed(raw), 10_000, 'the garbage written');
    const c = client();
    const back = readAll(c);
    c.end('still here');
    expect((await within(back, 15_000, 'the reply after the garbage')).toString()).to.equal('still here');
    await servedOne();
    // The server reads records in order: the garbage came before the real one.
    expect(lines(server!, 'connection').length, 'one connection: the real one').to.equal(served);
    expect(server!.running, 'the server program lives').to.equal(true);
  });

  it('takes the handle away when the server program closes on SIGTERM, and the program exits by itself', async () => {
    server!.kill('SIGTERM');
    const r = await within(server!.done, 15_000, 'the server program exiting');
    expect(r.timedOut).to.equal(false);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('closed');
    const st = await status();
    expect(st.handles, 'no handle left').to.deep.equal([]);
    expect(connectionChannels(st)).to.deep.equal([]);
    const c = client();
    expect((await within(failure(c), 10_000, 'a connect after the server went')).code).to.equal('ECONNREFUSED');
  });

  // Side a is free now that the server program has gone: a server of this process takes it.
  it('close() stops accepting and keeps its connections: a new connect is refused, the open one echoes, and close comes after it ends', async () => {
    const srv = localServer('a', (s) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => s.end(Buffer.concat(parts)));
    });
    const accepted = new Promise<void>((ok) => srv.once('connection', () => ok()));
    await within(listened(srv, 'closing'), 10_000, 'listening');
    const c = client('closing');
    await connected(c);
    await within(accepted, 10_000, 'the connection');
    let serverClosed = false;
    const closing = new Promise<void>((ok) => srv.close(() => ok()));
    void closing.then(() => (serverClosed = true));
    expect(srv.address(), 'not listening once close() is called').to.equal(null);

    const late = client('closing');
    expect((await within(failure(late), 10_000, 'the late connect')).code).to.equal('ECONNREFUSED');
    expect(serverClosed, 'close waits for the open connection').to.equal(false);

    const back = readAll(c);
    c.end('after close');
    expect((await within(back, 10_000, 'the reply')).toString()).to.equal('after close');
    await within(closing, 10_000, "the server's close once its connection ended");
  });

  it('ends the connections of a killed server program with ECONNRESET, and a new program listens on the handle at once', async () => {
    const victim = lab().proc(process.execPath, ['-e', SERVER, set, 'victim'], { timeoutMs: 120_000 });
    await victim.waitForOutput('listening victim', 15_000);
    const c = client('victim');
    await connected(c);
    await victim.waitForOutput('connection #1\n', 10_000);
    const failed = failure(c);
    const reply = readAll(c).then(() => 'a clean end of file', () => 'an error');
    c.write('half a request'); // and no end: the client waits for a reply that will not come
    // A second client knocks while the server is stopped: its record waits
    // in the listen channel, and the server dies before opening its end.
    victim.kill('SIGSTOP');
    const unserved = client('victim');
    await connected(unserved);
    const unservedFailed = failure(unserved);
    unserved.resume();
    victim.kill('SIGKILL');
    const err = await within(failed, 15_000, "the client's error once the server's heartbeat stops");
    expect(err.code).to.equal('ECONNRESET');
    expect(await reply, 'what reading the reply gave').to.equal('an error');
    expect((await within(unservedFailed, 15_000, 'the unserved client failing too')).code).to.equal('ECONNRESET');
    await within(Promise.all([closed(c), closed(unserved)]), 10_000, 'the reset sockets closing');

    // The dead program's side and listen channel are taken over, not refused.
    const heir = lab().proc(process.execPath, ['-e', SERVER, set, 'victim'], { timeoutMs: 120_000 });
    await heir.waitForOutput('listening victim', 15_000);
    const again = client('victim');
    const back = readAll(again);
    again.end('after the kill');
    expect((await within(back, 15_000, "the new program's reply")).toString()).to.equal('after the kill');
    heir.kill('SIGTERM');
    expect((await within(heir.done, 15_000, 'the new program exiting')).code).to.equal(0);
  });
});
