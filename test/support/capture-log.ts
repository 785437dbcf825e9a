import pino from 'pino';

/** A real pino logger whose lines land in `lines`, parsed, so a test can count what was logged. */
export function capturingLogger(level = 'info') {
  const lines: Array<Record<string, unknown> & { msg: string; level: number }> = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return {
    logger,
    lines,
    messages: (msg: string | RegExp) => lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg))),
  };
}
