import pino, { type Logger } from 'pino';

export type { Logger };

/** `json`: pino's JSON lines, for log collectors; `pretty`: short lines for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

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

export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const out = format === 'pretty' ? prettyStream(destination ?? process.stdout) : destination;
  return pino({ level, base: { service: 'falconer' }, redact: { paths: REDACT, censor: '[redacted]' } }, out);
}

/** `auto` is pretty on a terminal and JSON everywhere else (a pipe, a file, a container's log). */
export function resolveLogFormat(format: LogFormat | 'auto', isTTY: boolean | undefined): LogFormat {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OWN_FIELDS = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/** Turns pino's JSON lines (already redacted) into `12:51:00  INFO   message  key=value ...`. */
function prettyStream(out: { write(text: string): unknown }): pino.DestinationStream {
  return {
    write(line: string) {
      out.write(`${prettyLine(line)}\n`);
    },
  };
}

export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return terminalSafe(line.trimEnd());
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '--:--:--';
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !OWN_FIELDS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return terminalSafe([`${time}  ${level}  ${String(entry.msg ?? '')}`, ...fields].join('  '));
}

/**
 * Event fields reach the terminal: escape control characters (an ESC sequence in a pod name must not
 * rewrite the screen, a newline must not forge a line).
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
