import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may hold secrets anywhere in a logged object; pino replaces them before writing. */
const REDACT = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'password',
  '*.password',
  'url',
  '*.url',
  'apiUrl',
  '*.apiUrl',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'falconer' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
