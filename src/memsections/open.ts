// Opening a memsection set for mounting, status or check.
import { addon, Memsections } from '../native';
import { asUserError } from '../errors';
import { MemsectionSpec } from './locate';

export function openMemsections(spec: MemsectionSpec): Memsections {
  try {
    return new addon.Memsections(spec.paths);
  } catch (err) {
    return asUserError(err);
  }
}
