// Errors a user can act on: a message that says what was wrong, where, and
// what to do, and the exit code the CLI ends with.
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Turns an addon error (code EIVFS_*) into a UserError; rethrows others. */
export function asUserError(err: unknown): never {
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
    const code = (err as NodeJS.ErrnoException).code as string;
    if (code.startsWith('EIVFS_')) throw new UserError(err.message, 2);
  }
  throw err;
}
