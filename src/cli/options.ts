// Option parsers shared by the commands: commander turns their
// InvalidArgumentError into "error: option '--x <n>' argument 'y' is invalid. ...".
import { InvalidArgumentError } from 'commander';
import { parseSize } from '../memsections/sizes';

export function intOption(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function sizeOption(value: string): number {
  try {
    return parseSize(value, 'size');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
