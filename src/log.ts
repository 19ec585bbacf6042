// One pino logger per thread: JSON lines on stdout, or human-readable lines in development.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config/schema.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'log' | 'mode'>, thread: string): Logger {
  const usePretty = config.log.pretty ?? config.mode === 'development';
  const stream = usePretty
    ? pretty({ colorize: process.stdout.isTTY ?? false, sync: true, ignore: 'pid,hostname' })
    : pino.destination({ dest: 1, sync: false });
  return pino({ level: config.log.level, base: { thread } }, stream);
}
