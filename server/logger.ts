import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/index.ts';

export type { Logger };

/**
 * Structured JSON logs on stdout for machines; pino-pretty only when a person is watching a TTY.
 * The pretty transport runs in a worker thread so formatting never blocks the SIP receive path.
 */
export function createLogger(level: LogLevel = 'info', options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { service: 'patchbay' } });
}
