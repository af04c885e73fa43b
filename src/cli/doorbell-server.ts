// `intervmfs doorbell-server`: the host side of ivshmem-doorbell. QEMU's own
// ivshmem-server is not packaged by Debian; this serves the same protocol
// (native/doorbell_server.h) for the guests' `-chardev socket` and hands them
// the memsection region and the eventfds their doorbells ring through. Runs
// in the foreground until Ctrl-C or SIGTERM, then removes its socket.
import { Command, Option } from 'commander';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { asUserError, UserError } from '../errors';
import { createLogger } from '../log';
import { addon, DoorbellServer } from '../native';
import { formatMemsections, FORMAT_DEFAULTS, sizeFile } from '../memsections/format';
import { locateMemsections } from '../memsections/locate';
import { formatSize } from '../memsections/sizes';
import { untilStopSignal } from '../daemon/stop-signal';
import { intOption, sizeOption } from './options';

interface ServerOptions {
  socket: string;
  memsections: string;
  vectors: number;
  size?: number;
  channels: number;
}

/** True when something accepts connections on the socket path. */
function socketInUse(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

// A socket left by a server that died is removed; a live server or a file
// that is not a socket is reported.
async function clearSocketPath(socketPath: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new UserError(`${socketPath} exists and is not a socket; choose another --socket path`);
  if (await socketInUse(socketPath)) throw new UserError(`a server already listens on ${socketPath}; stop it first or choose another --socket path`);
  fs.unlinkSync(socketPath);
}

// The region must exist and be formatted before guests map it; --size
// creates and formats a missing one.
async function prepareRegion(region: string, size: number | undefined, channels: number): Promise<void> {
  if (fs.existsSync(region)) {
    if (fs.statSync(region).isDirectory()) throw new UserError(`${region} is a folder; a doorbell server shares one region file (e.g. /dev/shm/intervmfs-vm)`);
    return;
  }
  if (!size) throw new UserError(`${region} does not exist; give --size (e.g. --size 128M) to create and format it, or create it with truncate and intervmfs format`);
  fs.mkdirSync(path.dirname(region), { recursive: true });
  sizeFile(region, size);
  try {
    await formatMemsections(locateMemsections(region), { ...FORMAT_DEFAULTS, channels, force: false });
  } catch (err) {
    fs.rmSync(region, { force: true }); // what we created and could not format
    throw err;
  }
}

// The server hands out any file; guests can only mount a formatted one.
// Said at start, where the person who set the region up is looking.
function noteUnformatted(region: string): void {
  if (addon.AreaRegistry.isAreaRegion(region)) return; // an area region: guests mount its areas
  try {
    new addon.Memsections([region]).close();
  } catch (err) {
    console.error(
      `intervmfs doorbell-server: note: guests cannot mount ${region} yet (${(err as Error).message}); ` +
        `format it first: intervmfs format --memsections ${region}`,
    );
  }
}

export async function runDoorbellServer(o: ServerOptions): Promise<void> {
  const socketPath = path.resolve(o.socket);
  const region = path.resolve(o.memsections);
  await prepareRegion(region, o.size, o.channels);
  noteUnformatted(region);
  await clearSocketPath(socketPath);
  const log = createLogger();
  let server: DoorbellServer;
  try {
    server = new addon.DoorbellServer(socketPath, region, o.vectors, (kind, id, detail) => {
      if (kind === 'connected' || kind === 'disconnected') log.info({ peer: id }, `peer ${id} ${kind}`);
      else log.warn({ peer: id, detail }, `${kind}: ${detail}`);
    });
  } catch (err) {
    return asUserError(err);
  }
  const socketArg = socketPath.replace(/,/g, ',,');
  console.error(
    `intervmfs doorbell-server: serving ${region} (${formatSize(server.shmSize)}) on ${socketPath}\n` +
      `  start each QEMU guest with: -machine q35 -device intel-iommu -chardev socket,path=${socketArg},id=ivshmem -device ivshmem-doorbell,chardev=ivshmem,vectors=${o.vectors}\n` +
      `  (the IOMMU lets the guest wait for the interrupt through VFIO; boot the guest kernel with intel_iommu=on)\n` +
      `  and in each guest: intervmfs mount DIR --memsections ivshmem --side a|b --notify doorbell`,
  );
  await untilStopSignal(log);
  server.close();
  fs.rmSync(socketPath, { force: true });
}

export function addDoorbellServerCommand(program: Command): void {
  program
    .command('doorbell-server')
    .description("serve QEMU's ivshmem-doorbell devices on the host: peer ids, the shared region and the eventfds of their interrupts")
    .requiredOption('--socket <path>', 'Unix socket the guests connect to (QEMU: -chardev socket,path=...)')
    .requiredOption('--memsections <file>', 'the region the guests share, a file whose size is a power of two (e.g. /dev/shm/intervmfs-vm)')
    .addOption(new Option('--size <size>', 'create and format the region with this size if it does not exist (e.g. 128M)').argParser(sizeOption))
    .addOption(new Option('--channels <n>', 'channel capacity when --size creates the region').argParser(intOption(1, 4096)).default(FORMAT_DEFAULTS.channels))
    .addOption(new Option('--vectors <n>', 'interrupt vectors per peer (intervmfs uses one)').argParser(intOption(1, 64)).default(1))
    .action(async (o: ServerOptions) => {
      await runDoorbellServer(o);
    });
}
