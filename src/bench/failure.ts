// How a failed bench run explains itself: which workload on which channel,
// and why, in the words of the program that failed (its command, exit code or
// signal, the tail of its stderr) rather than as a Node stack.
import { UserError } from '../errors';

/** A bench run that could not finish; the CLI prints the message, no stack. */
export class BenchFailure extends UserError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'BenchFailure';
  }
}

/** The last `lines` non-empty lines of a program's output, indented. */
export function tail(text: string, lines = 6): string {
  const kept = text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').slice(-lines);
  return kept.map((l) => `    ${l}`).join('\n');
}

/** "exited with code 1", "was killed by SIGSEGV". */
export function describeExit(code: number | null, signal: NodeJS.Signals | string | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** The parts of the errors child_process throws that say why. */
interface ChildError {
  message?: string;
  code?: string | number;
  syscall?: string;
  path?: string;
  spawnargs?: string[];
  status?: number | null;
  signal?: NodeJS.Signals | null;
  stderr?: string | Buffer;
}

/**
 * One or more lines on why `err` happened: for a program run by
 * execFileSync, its command, exit and stderr tail; for a program that could
 * not be started (spawn's 'error'), the command and the errno; else the message.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & ChildError;
  if (e.syscall?.startsWith('spawn')) {
    return `could not start ${[e.path, ...(e.spawnargs ?? [])].join(' ')}: ${e.code}`;
  }
  if (e.status !== undefined && (e.status !== null || e.signal)) {
    // execFileSync: the message repeats the command and all of stderr.
    const command = (e.message.split('\n')[0] ?? '').replace(/^Command failed: /, '');
    const stderr = e.stderr ? tail(e.stderr.toString()) : '';
    return `\`${command}\` ${describeExit(e.status, e.signal ?? null)}${stderr ? `; its stderr ends:\n${stderr}` : ''}`;
  }
  return e.message;
}

/** Runs one stage of the bench; a failure is rethrown naming the stage, the channel and why. */
export async function stage<T>(what: string, channel: { name: string; diagnose?(): string | undefined } | string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof BenchFailure) throw err;
    const name = typeof channel === 'string' ? channel : channel.name;
    let diagnosis: string | undefined;
    try {
      diagnosis = typeof channel === 'string' ? undefined : channel.diagnose?.();
    } catch (e) {
      diagnosis = `(and diagnosing ${name} failed: ${(e as Error).message})`;
    }
    throw new BenchFailure(`bench failed: ${what}, ${name}: ${describeError(err)}${diagnosis ? `\n${diagnosis}` : ''}`);
  }
}
