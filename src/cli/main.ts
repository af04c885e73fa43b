// Command-line entry: parses with commander, turns UserErrors into a clear
// message and a non-zero exit, everything else into a bug report.
import { Command, Option } from 'commander';
import path from 'path';
import { UserError } from '../errors';
import { createLogger } from '../log';
import { chooseNotifier, defaultMemsectionDir, isPciRegion, locateMemsections, MemsectionSpec } from '../memsections/locate';
import { formatMemsections, FORMAT_DEFAULTS, inMemory } from '../memsections/format';
import { openMemsections } from '../memsections/open';
import { formatSize } from '../memsections/sizes';
import { collectStatus, renderStatus } from '../memsections/status';
import { checkMemsections, renderFindings } from '../memsections/check';
import { chat } from './chat';
import os from 'os';
import { reportToParent, startBackground } from '../daemon/background';
import { logPath } from '../daemon/registry';
import { serveForeground, Side } from '../daemon/serve';
import { unmount } from '../daemon/unmount';
import { reclaimDeadMount } from '../daemon/dead-mount';
import { addon, NOTIFY_MODES, NotifyMode } from '../native';
import { AreaAttachOptions, formatAreaRegion, isAreaRegion, openRegistry, removeArea } from '../areas/registry';
import { collectAreaStatus, renderAreaStatus } from '../areas/status';
import { addDoorbellServerCommand } from './doorbell-server';
import { intOption, sizeOption } from './options';
import { fromMountHelper } from './mount-helper';

const MEMSECTIONS_HELP = `memsection set: a folder with control, data0 and data1; one file or region (e.g. /sys/bus/pci/devices/<bdf>/resource2); or ivshmem[:<bdf>] (default: ${path.relative(process.cwd(), defaultMemsectionDir) || '.'})`;

const AREA_ID_MAX = addon.constants.areaIdMax;

interface MountFlags {
  memsections?: string;
  side?: Side;
  area?: string;
  peer?: string;
  areaSize?: number;
  pairSize?: number;
  pairChannels?: number;
  notify?: NotifyMode;
  foreground: boolean;
  log?: string;
  spinUs?: number;
  port?: string;
}

/** Exactly one of --side and --area; the area's flags only with --area. Checked before any daemon starts. */
function areaOptions(spec: MemsectionSpec, o: MountFlags): AreaAttachOptions | undefined {
  const areaOnly = (['peer', 'areaSize', 'pairSize', 'pairChannels'] as const).filter((k) => o[k] !== undefined);
  if (o.area === undefined) {
    if (areaOnly.length > 0) throw new UserError(`--${areaOnly[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --area`);
    if (!o.side) {
      throw new UserError(
        isAreaRegion(spec) ? `${spec.given} is an area region: mount it with --area ID --peer NAME` : 'mount needs --side a or --side b (or --area ID --peer NAME in an area region)',
      );
    }
    if (isAreaRegion(spec)) throw new UserError(`${spec.given} is an area region, not a two-sided set: mount it with --area ID --peer NAME`);
    return undefined;
  }
  const id = Number(o.area);
  if (!/^\d+$/.test(o.area) || id < 1 || id > AREA_ID_MAX) throw new UserError(`area ID ${o.area} is out of range: IDs are whole numbers from 1 to ${AREA_ID_MAX}`);
  if (o.side) throw new UserError('--side and --area exclude each other: --side mounts a two-sided set, --area an area of an area region');
  if (!o.peer) throw new UserError(`--area ${o.area} needs --peer NAME: this peer's name in the area (e.g. --peer vm1)`);
  if (!addon.AreaRegistry.validPeerName(o.peer)) {
    throw new UserError(`peer name '${o.peer}' is not allowed: 1 to ${addon.constants.peerNameMax} letters, digits, '.', '_' or '-', not starting with '.' or '-'`);
  }
  if (!isAreaRegion(spec)) throw new UserError(`${spec.given} is not an area region; format it with intervmfs format --areas --memsections ${spec.given}`);
  return { id, peer: o.peer, areaSize: o.areaSize, pairSize: o.pairSize, channels: o.pairChannels };
}

/** --port: a two-sided set of this machine's own, not shared (an ivshmem region or an area has no use for a port). */
function checkPortOptions(spec: MemsectionSpec, o: MountFlags, isArea: boolean): void {
  if (isArea) throw new UserError('--port joins the two sides of one set; an area region is shared memory already');
  if (isPciRegion(spec)) throw new UserError(`--port keeps a private copy in step over a port; ${spec.given} is shared memory already (mount it without --port)`);
  if (o.notify === 'doorbell') throw new UserError('--notify doorbell rings an ivshmem device; a port side is woken by its transport: use futex (the default) or poll');
  if (!/^(unix:|unix-listen:|fd:|\/)/.test(o.port!)) {
    throw new UserError(`--port ${o.port}: name a virtio-serial port (/dev/vport0p1), unix:PATH (connect) or unix-listen:PATH (listen)`);
  }
}

/** The flags the background daemon is started with: the user's, minus --notify and --foreground. */
function mountFlagArgs(o: MountFlags): string[] {
  const args: string[] = [];
  const add = (flag: string, v: string | number | undefined) => v !== undefined && args.push(flag, String(v));
  add('--memsections', o.memsections);
  add('--side', o.side);
  add('--area', o.area);
  add('--peer', o.peer);
  add('--area-size', o.areaSize);
  add('--pair-size', o.pairSize);
  add('--pair-channels', o.pairChannels);
  if (o.spinUs) add('--spin-us', o.spinUs);
  add('--port', o.port);
  return args;
}

export function buildProgram(): Command {
  const program = new Command('intervmfs')
    .description('Named FIFO channels between virtual machines over shared memory, as a FUSE filesystem')
    .version(require('../../../package.json').version)
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nAs mount(8) runs it (mount -t fuse.intervmfs SOURCE MOUNTPOINT -o side=a, or a line in /etc/fstab):\n' +
        '  intervmfs SOURCE MOUNTPOINT -o side=a|b[,notify=futex|poll|doorbell][,spin-us=N][,log=FILE]\n' +
        '  intervmfs SOURCE MOUNTPOINT -o area=ID,peer=NAME[,area-size=SIZE][,pair-size=SIZE][,pair-channels=N][,notify=...]\n' +
        'is `intervmfs mount MOUNTPOINT --memsections SOURCE --side a|b ...` (or --area ID --peer NAME ...); generic mount options (rw, nofail, _netdev...) are ignored.',
    );

  program
    .command('format')
    .description('create (for a folder) and format a memsection set: a header and an empty channel table')
    .option('--memsections <path>', MEMSECTIONS_HELP)
    .addOption(new Option('--channels <n>', 'channel capacity').argParser(intOption(1, 4096)).default(FORMAT_DEFAULTS.channels))
    .addOption(
      new Option('--data-size <size>', 'size of each data memsection (folder sets only; a region is carved by its own size)')
        .argParser(sizeOption)
        .default(FORMAT_DEFAULTS.dataSize, formatSize(FORMAT_DEFAULTS.dataSize)),
    )
    .option('--force', 'erase and reformat a set that is already formatted', false)
    .option('--areas', 'format one region as an area region instead: a registry of areas by ID, each shared by named peers (mount --area)', false)
    .addOption(new Option('--size <size>', 'with --areas: create the region file with this size if it is missing').argParser(sizeOption))
    .action(async (o: { memsections?: string; channels: number; dataSize: number; force: boolean; areas: boolean; size?: number }) => {
      if (o.areas) {
        if (!o.memsections) throw new UserError('format --areas needs --memsections: a file (created with --size) or an ivshmem device');
        const spec = locateMemsections(o.memsections, { forFormat: true });
        const size = await formatAreaRegion(spec, { size: o.size, force: o.force });
        console.log(
          `formatted ${spec.given} as an area region: ${formatSize(size)}, room for ${addon.constants.areaCapacity} areas of up to ${addon.constants.areaPeersMax} peers each; ` +
            `create an area by mounting it: intervmfs mount DIR --memsections ${spec.given} --area 1 --peer vm1 --area-size 64M`,
        );
        return;
      }
      if (o.size !== undefined) throw new UserError('--size goes with --areas; a set in a folder takes --data-size');
      const spec = locateMemsections(o.memsections, { forFormat: true });
      const g = await formatMemsections(spec, { channels: o.channels, dataSize: o.dataSize, force: o.force });
      if (spec.kind === 'folder' && !inMemory(path.dirname(spec.paths[0]))) {
        console.error(`intervmfs: note: ${spec.given} is on a disk filesystem; transfers are faster with the set in memory, e.g. --memsections /dev/shm/intervmfs`);
      }
      console.log(
        `formatted ${spec.given}: ${g.capacity} channels, ring of ${formatSize(g.ringSize)} per channel and direction, ` +
          `control ${formatSize(g.controlSize)}, data memsections ${formatSize(g.dataSize)} each`,
      );
    });

  program
    .command('mount')
    .description('mount one side of a memsection set, or one peer of an area (--area); returns once ready and serves in the background')
    .argument('<mountpoint>', 'empty directory to mount on')
    .option('--memsections <path>', MEMSECTIONS_HELP)
    .addOption(new Option('--side <side>', 'which side of a two-sided set this mount is').choices(['a', 'b']))
    .option('--area <id>', `in an area region: the area to attach (1 to ${AREA_ID_MAX})`)
    .option('--peer <name>', 'with --area: our name in the area (unique among its peers; a folder in every other peer\'s mount)')
    .addOption(new Option('--area-size <size>', 'with --area: the size of the area; required when this mount creates it, else it must match').argParser(sizeOption))
    .addOption(new Option('--pair-size <size>', 'with --area, when it creates the area: the memsection set of each two peers (default 4M)').argParser(sizeOption))
    .addOption(new Option('--pair-channels <n>', 'with --area, when it creates the area: channels per pair of peers (default 16)').argParser(intOption(1, 4096)))
    .addOption(
      new Option(
        '--notify <mode>',
        'how a waiting side is woken: futex (one kernel), poll (anything sharing memory) or doorbell (ivshmem-doorbell interrupts between QEMU guests); default futex, poll on an ivshmem device',
      ).choices(NOTIFY_MODES),
    )
    .option('--foreground', 'stay attached to the terminal; unmount on Ctrl-C or SIGTERM', false)
    .option('--log <file>', 'log file of the background daemon (default: in the runtime folder)')
    .option(
      '--spin-us <microseconds>',
      'spin this long before sleeping when a read or write must wait: lower latency for ping-pong traffic, at the cost of CPU (0 to 1000; default 0)',
      intOption(0, 1000),
    )
    .option(
      '--port <link>',
      'between guests without shared memory: keep this set (a private copy, formatted alike on both sides) in step with the peer\'s over a port the hypervisor emulates: a virtio-serial port (/dev/vport0p1), unix:PATH or unix-listen:PATH',
    )
    .action(async (mountpoint: string, o: MountFlags) => {
      const logFile = path.resolve(o.log ?? logPath(mountpoint));
      const spec = locateMemsections(o.memsections);
      const reclaimed = reclaimDeadMount(mountpoint);
      if (reclaimed) console.error(`intervmfs: ${reclaimed}`);
      const area = areaOptions(spec, o);
      if (o.port !== undefined) checkPortOptions(spec, o, area !== undefined);
      o.notify = chooseNotifier(spec, o.notify);
      if (!o.foreground) {
        // Checked here, so mistakes are reported without a daemon.
        const args = ['mount', mountpoint, '--notify', o.notify!, ...mountFlagArgs(o)];
        require('fs').mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
        const pid = await startBackground(args, logFile);
        const what = area ? `area ${area.id} as ${area.peer}` : `side ${o.side}`;
        console.log(`mounted ${mountpoint} (${what}, notify ${o.notify}); daemon pid ${pid}, log ${logFile}`);
        return;
      }
      const log = createLogger();
      try {
        await serveForeground(
          { mountpoint, spec, side: area ? undefined : o.side, area, notify: o.notify!, log, logFile, spinUs: o.spinUs, port: o.port },
          () => reportToParent('ready'),
        );
      } catch (err) {
        if (err instanceof UserError) reportToParent(`error: ${err.message}`);
        throw err;
      }
    });

  program
    .command('unmount')
    .alias('umount')
    .description('stop the daemon of a mount point and unmount it')
    .argument('<mountpoint>')
    .option('--force', 'unmount even while channels are open (their readers and writers get errors)', false)
    .action(async (mountpoint: string, o: { force: boolean }) => {
      console.log(await unmount(mountpoint, o.force));
    });

  program
    .command('status')
    .description('show the sides attached, the channels and the bytes they moved')
    .option('--memsections <path>', MEMSECTIONS_HELP)
    .option('--json', 'print JSON instead of text', false)
    .action(async (o: { memsections?: string; json: boolean }) => {
      const spec = locateMemsections(o.memsections);
      if (isAreaRegion(spec)) {
        const reg = openRegistry(spec);
        try {
          const report = await collectAreaStatus(reg, spec, reg.regionSize(), addon.constants.registrySize);
          console.log(o.json ? JSON.stringify(report, null, 2) : renderAreaStatus(report));
        } finally {
          reg.close();
        }
        return;
      }
      const ms = openMemsections(spec);
      try {
        const report = await collectStatus(ms, spec.given);
        console.log(o.json ? JSON.stringify(report, null, 2) : renderStatus(report));
      } finally {
        ms.close();
      }
    });

  program
    .command('bench')
    .description('benchmark intervmfs (futex and poll) against a kernel FIFO, a Unix socket, TCP and a C FUSE reference (the ceiling), or (--vm) between two QEMU guests; prints a table, writes JSON and SVG')
    .option('--quick', 'a smoke run of under a minute (smaller sizes, 2 rounds; with --vm, one round per notifier)', false)
    .option('--vm', 'between two QEMU guests instead (ivshmem; poll and doorbell against a kernel FIFO inside a guest); a few minutes', false)
    .option('--out <dir>', 'where to write bench.json, bench.svg and bench.txt (vm-bench.json and .txt with --vm)', path.resolve(__dirname, '../../../bench-results'))
    .option('--spin-us <microseconds>', 'the spin of the "intervmfs futex spin" column (mount --spin-us; 1 to 1000)', intOption(1, 1000), 20)
    .option(
      '--rounds <n>',
      'every figure is the median of this many rounds, each running every channel once, printed with its lowest and highest round (default 5, with --quick 2; with --vm, rounds per notifier, default 2, with --quick 1)',
      intOption(1, 100),
    )
    .option('--seed <n>', 'the seed of the shuffled channel order of each round (bench.json records the one used), to repeat a run in the same order', intOption(0, 2 ** 31 - 1))
    .option('--only <columns>', 'only these columns, comma-separated, named as in the table (for example "intervmfs futex,C reference (FUSE)"); the kernel FIFO always runs')
    .option('--no-pin', "leave the peer processes to the scheduler (by default each pair's two peers share one CPU, so that a run repeats; unpinned, one stream can run at any of several speeds)")
    .action(async (o: { quick: boolean; vm: boolean; out: string; spinUs: number; rounds?: number; only?: string; seed?: number; pin: boolean }) => {
      // Loaded here: the other commands (mount in a slow guest) need not load it.
      if (o.vm && (o.only || o.seed !== undefined || !o.pin)) throw new UserError('bench --only, --seed and --no-pin are for the host bench; --vm runs its own columns in its own order, one peer in each guest');
      if (o.vm) {
        const { runVmBench } = await import('../bench/run-vm-bench');
        await runVmBench({ quick: o.quick, out: path.resolve(o.out), rounds: o.rounds });
        return;
      }
      const { runBench } = await import('../bench/run-bench');
      await runBench({ quick: o.quick, out: path.resolve(o.out), spinUs: o.spinUs, rounds: o.rounds, only: o.only?.split(','), seed: o.seed, pin: o.pin });
    });

  program
    .command('chat')
    .description('a line chat over one channel in both directions (run it on each side, or in each guest)')
    .argument('<channel>', 'a channel file in a mounted side, e.g. mount/a/chat')
    .option('--name <name>', 'how your lines are signed', `${os.userInfo().username}@${os.hostname()}`)
    .action(async (channel: string, o: { name: string }) => {
      await chat(channel, o.name);
    });

  program
    .command('check')
    .description('report what in a memsection set is damaged (exit 0: nothing, 1: damage found); safe while mounted')
    .option('--memsections <path>', MEMSECTIONS_HELP)
    .action(async (o: { memsections?: string }) => {
      const spec = locateMemsections(o.memsections);
      const ms = openMemsections(spec); // a damaged header is refused here, with the reason
      try {
        const findings = checkMemsections(ms);
        console.log(renderFindings(spec.given, findings));
        if (findings.length > 0) process.exitCode = 1;
      } finally {
        ms.close();
      }
    });

  const area = program.command('area').description('manage the areas of an area region (see format --areas)');
  area
    .command('rm')
    .description('remove an area that no live peer has attached (its channels and pairs go with it)')
    .requiredOption('--memsections <path>', 'the area region')
    .requiredOption('--id <id>', 'the area ID', intOption(1, AREA_ID_MAX))
    .action(async (o: { memsections: string; id: number }) => {
      const spec = locateMemsections(o.memsections);
      const reg = openRegistry(spec);
      try {
        const { stale } = await removeArea(reg, o.id);
        const dead = stale.length ? `; the mappings of ${stale.map((p) => p.name).join(', ')}, which no longer beat, went with it` : '';
        console.log(`removed area ${o.id} from ${spec.given}${dead}`);
      } finally {
        reg.close();
      }
    });

  addDoorbellServerCommand(program);
  return program;
}

/** The names (and aliases) the program answers to as commands. */
export function commandNames(program: Command): Set<string> {
  const names = new Set(['help']);
  for (const c of program.commands) {
    names.add(c.name());
    for (const a of c.aliases()) names.add(a);
  }
  return names;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = buildProgram();
    // `intervmfs SOURCE MOUNTPOINT -o side=a,...`: how mount.fuse runs us (mount -t fuse.intervmfs, fstab).
    const mountForm = fromMountHelper(argv.slice(2), commandNames(program));
    // mount(8) clears PATH before it runs mount.fuse (util-linux sanitizes the
    // environment); the daemon inherits ours and runs umount and modprobe.
    if (mountForm && !process.env.PATH) process.env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    await program.parseAsync(mountForm ? [...argv.slice(0, 2), ...mountForm] : argv);
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`intervmfs: ${err.message}`);
      process.exitCode = err.exitCode;
      return;
    }
    console.error('intervmfs: unexpected failure (a bug; please report it with this trace):');
    console.error(err);
    process.exitCode = 70;
  }
}
