// Run inside a test guest by guest-test.sh: the installed package's library
// between two guests over one ivshmem region (notify poll), as a user's
// programs would use it.
//   node lib-across.js PKGDIR server MEMSECTIONS SIDE HANDLE
//     echoes one connection, then closes; prints "listening", then "closed"
//   node lib-across.js PKGDIR client MEMSECTIONS SIDE HANDLE ROUNDS
//     ROUNDS round trips of 64 bytes, then 1 MiB sent and echoed back;
//     prints one JSON line: p50_us, p99_us, mib_ms, intact
//   node lib-across.js PKGDIR refused MEMSECTIONS SIDE HANDLE
//     prints the code a connect fails with (ECONNREFUSED once nobody listens)
//   node lib-across.js PKGDIR send MEMSECTIONS SIDE CHANNEL FILE
//     makes CHANNEL and writes FILE to it with openChannel, for a shell
//     reader on a mount of the other side
'use strict';
const crypto = require('crypto');
const [pkg, mode, memsections, side, handle, rounds] = process.argv.slice(2);
const { createServer, connect, openChannel } = require(pkg);
// The bench's library peer reads as this needs: exactly n bytes, or an error at the end.
const { readExactly } = require(`${pkg}/dist/src/bench/lib-peer.js`);
const opts = { memsections, side, notify: 'poll' };

function fail(err) {
  console.error(`lib-across ${mode}: ${err.code || ''} ${err.message}`);
  process.exit(1);
}

function serve() {
  const server = createServer(opts, (socket) => {
    socket.on('error', fail);
    socket.pipe(socket);
    server.close(() => console.log('closed')); // one connection: close waits for it to end
  });
  server.on('error', fail);
  server.listen(handle, () => console.log('listening'));
}

async function client() {
  const socket = connect({ ...opts, handle });
  socket.on('error', fail);
  await new Promise((resolve) => socket.once('connect', resolve));
  const read = (n) => readExactly(socket, n);
  const ping = Buffer.alloc(64, 0x5a);
  const times = [];
  for (let i = 0; i < Number(rounds); i++) {
    const t0 = process.hrtime.bigint();
    socket.write(ping);
    await read(64);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]);
  const payload = crypto.randomBytes(1024 * 1024);
  const t0 = process.hrtime.bigint();
  const back = read(payload.length);
  const ended = new Promise((resolve) => socket.once('end', resolve)); // the server's end after ours
  socket.end(payload);
  const got = await back;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  socket.resume(); // on to the end of file
  await ended;
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ p50_us: at(0.5), p99_us: at(0.99), mib_ms: Math.round(ms), intact: sha(got) === sha(payload) }));
}

function refused() {
  const socket = connect({ ...opts, handle });
  socket.on('connect', () => {
    console.log('connected');
    socket.destroy();
  });
  socket.on('error', (err) => console.log(err.code));
}

function send(channel, file) {
  const ch = openChannel({ ...opts, name: channel, mode: 'w', create: true });
  ch.on('error', fail);
  ch.end(require('fs').readFileSync(file)); // the reader gets end of file after the last byte
  ch.on('close', () => console.log('sent'));
}

if (mode === 'server') serve();
else if (mode === 'send') send(handle, rounds);
else if (mode === 'client') client().catch(fail);
else if (mode === 'refused') refused();
else fail(new Error(`unknown mode ${mode}`));
