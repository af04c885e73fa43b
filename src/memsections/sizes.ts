// Human sizes for options: 4096, 64K, 16M, 1G (powers of 1024).
import { UserError } from '../errors';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(text: string, what: string): number {
  const m = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UserError(`${what} must be a size such as 4096, 64K, 16M or 1G, got "${text}"`);
  const bytes = Number(m[1]) * UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UserError(`${what} is out of range: ${text}`);
  return bytes;
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= factor && bytes % (factor / 16) === 0) return `${+(bytes / factor).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
