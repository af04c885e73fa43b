// The daemon's log: pino, one JSON line per event, to stderr (which the
// background daemon points at its log file). INTERVMFS_LOG_LEVEL or --verbose
// chooses the level.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = process.env.INTERVMFS_LOG_LEVEL ?? 'info', fd = 2): Logger {
  return pino({ name: 'intervmfs', level, base: { pid: process.pid } }, pino.destination({ fd, sync: true }));
}

/** A logger that drops everything, for unit tests and one-shot commands. */
export const silentLogger: Logger = pino({ level: 'silent' });
