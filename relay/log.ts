/** Structured logs (JSON lines, with levels) for the relay: pino, to stdout (journald keeps them). */
import { pino } from 'pino';
import type { LogLevel } from './config.ts';

export type Logger = pino.Logger;

export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination(1)): Logger {
  return pino({ level, base: { service: 'blaze-node' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
