// `intervmfs chat CHANNEL`: a line chat over one channel in both directions,
// as the kvmtool project's chat demo, between two sides or two guests. This
// side's lines go into the channel through a writer descriptor, one write of
// at most PIPE_BUF bytes each so no line is ever torn; the other side's lines
// come out of it through `cat`, a separate reader. The reader is a child
// process because a read waiting in the channel cannot be abandoned by a
// thread of ours at exit, but a child can be killed. Ends at Ctrl-D, or when
// the other side leaves (its writer closes: EOF).
import { spawn } from 'child_process';
import fs from 'fs';
import readline from 'readline';
import { UserError } from '../errors';

const PIPE_BUF = 4096;

export async function chat(channel: string, name: string): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(channel, 'w');
  } catch (err) {
    throw new UserError(`cannot open ${channel}: ${(err as Error).message}; make it with mknod ${channel} p on a mounted side`);
  }
  const reader = spawn('cat', [channel], { stdio: ['ignore', 'inherit', 'inherit'] });
  process.stderr.write(`chat on ${channel} as ${name}; type lines, Ctrl-D to leave\n`);
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  await new Promise<void>((resolve) => {
    reader.on('exit', () => {
      process.stderr.write('(the other side left)\n');
      resolve();
    });
    lines.on('line', (line) => {
      const message = Buffer.from(`${name}: ${line}\n`);
      const whole = message.length <= PIPE_BUF ? message : Buffer.concat([message.subarray(0, PIPE_BUF - 1), Buffer.from('\n')]);
      fs.writeSync(fd, whole);
    });
    lines.on('close', resolve);
  });
  reader.kill('SIGKILL');
  lines.close();
  process.stdin.destroy();
  fs.closeSync(fd);
}
