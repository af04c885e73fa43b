// Boots the two test guests (test/vm/run.sh) with a guest script, and waits
// for them: what `bench --vm` and `breakdown --vm` share. The guests' progress
// goes to stderr; each guest's figures are copied into `figures`.
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';

const ROOT = path.resolve(__dirname, '../../..');

/** Throws the user's error when there are no test guests here (an installed package). */
export function requireCheckout(command: string): void {
  if (!fs.existsSync(path.join(ROOT, 'test', 'vm', 'run.sh'))) {
    throw new UserError(`${command} boots the test guests of a checkout (test/vm/), which an installed package does not have; run it in a clone of intervmfs`, 2);
  }
}

/** Runs test/vm/run.sh with VM_SCRIPT=`script` and VM_NOTIFIERS=`notifiers`; resolves with its exit code. */
export function runGuests(script: string, notifiers: string, figures: string): Promise<number | null> {
  return new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [path.join(ROOT, 'test', 'vm', 'run.sh')], {
      env: { ...process.env, VM_SCRIPT: script, VM_NOTIFIERS: notifiers, VM_FIGURES: figures },
      stdio: ['ignore', process.stderr, process.stderr],
    });
    const stop = () => child.kill('SIGTERM'); // run.sh stops its guests and server
    child.on('error', reject);
    child.on('close', (code) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve(code);
    });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
