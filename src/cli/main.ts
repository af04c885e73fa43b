// Command-line entry: parses with commander, turns UserErrors into a clear
// message and a non-zero exit, everything else into a bug report.
import { Command, Option } from 'commander';
import path from 'path';
import { UserError } from '../errors';
import { createLogger } from '../log';
import { chooseNotifier, defaultMemsectionDir, locateMemsections } from '../memsections/locate';
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
import { NOTIFY_MODES, NotifyMode } from '../native';
import { addDoorbellServerCommand } from './doorbell-server';
import { intOption, sizeOption } from './options';
import { fromMountHelper } from './mount-helper';

const MEMSECTIONS_HELP = `memsection set: a folder with control, data0 and data1; one file or region (e.g. /sys/bus/pci/devices/<bdf>/resource2); or ivshmem[:<bdf>] (default: ${path.relative(process.cwd(), defaultMemsectionDir) || '.'})`;

export function buildProgram(): Command {
  const program = new Command('intervmfs')
    .description('Named FIFO channels between virtual machines over shared memory, as a FUSE filesystem')
    .version(require('../../../package.json').version)
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nAs mount(8) runs it (mount -t fuse.intervmfs SOURCE MOUNTPOINT -o side=a, or a line in /etc/fstab):\n' +
        '  intervmfs SOURCE MOUNTPOINT -o side=a|b[,notify=futex|poll|doorbell][,spin-us=N][,log=FILE]\n' +
        'is `intervmfs mount MOUNTPOINT --memsections SOURCE --side a|b ...`; generic mount options (rw, nofail, _netdev...) are ignored.',
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
    .action(async (o: { memsections?: string; channels: number; dataSize: number; force: boolean }) => {
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
    .description('mount one side of a memsection set; returns once ready and serves in the background')
    .argument('<mountpoint>', 'empty directory to mount on')
    .option('--memsections <path>', MEMSECTIONS_HELP)
    .addOption(new Option('--side <side>', 'which side this mount is').choices(['a', 'b']).makeOptionMandatory())
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
    .action(async (mountpoint: string, o: { memsections?: string; side: Side; notify?: NotifyMode; foreground: boolean; log?: string; spinUs?: number }) => {
      const logFile = path.resolve(o.log ?? logPath(mountpoint));
      o.notify = chooseNotifier(locateMemsections(o.memsections), o.notify);
      if (!o.foreground) {
        // Check what can be checked here, so mistakes are reported without a daemon.
        locateMemsections(o.memsections);
        const args = ['mount', mountpoint, '--side', o.side, '--notify', o.notify!];
        if (o.memsections) args.push('--memsections', o.memsections);
        if (o.spinUs) args.push('--spin-us', String(o.spinUs));
        require('fs').mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
        const pid = await startBackground(args, logFile);
        console.log(`mounted ${mountpoint} (side ${o.side}, notify ${o.notify}); daemon pid ${pid}, log ${logFile}`);
        return;
      }
      const log = createLogger();
      try {
        await serveForeground(
          { mountpoint, spec: locateMemsections(o.memsections), side: o.side, notify: o.notify!, log, logFile, spinUs: o.spinUs },
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
    .option('--quick', 'a smoke run of under a minute (smaller sizes, fewer runs; with --vm, one round per notifier)', false)
    .option('--vm', 'between two QEMU guests instead (ivshmem; poll and doorbell against a kernel FIFO inside a guest); a few minutes', false)
    .option('--out <dir>', 'where to write bench.json, bench.svg and bench.txt (vm-bench.json and .txt with --vm)', path.resolve(__dirname, '../../../bench-results'))
    .option('--spin-us <microseconds>', 'the spin of the "intervmfs futex spin" column (mount --spin-us; 1 to 1000)', intOption(1, 1000), 20)
    .action(async (o: { quick: boolean; vm: boolean; out: string; spinUs: number }) => {
      // Loaded here: the other commands (mount in a slow guest) need not load it.
      if (o.vm) {
        const { runVmBench } = await import('../bench/run-vm-bench');
        await runVmBench({ quick: o.quick, out: path.resolve(o.out) });
        return;
      }
      const { runBench } = await import('../bench/run-bench');
      await runBench({ quick: o.quick, out: path.resolve(o.out), spinUs: o.spinUs });
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
