import { Writable } from 'node:stream';
import { createLogger, prettyLine, resolveLogFormat, terminalSafe } from '../../src/observability/logger';

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { text: () => chunks.join(''), stream };
}

describe('log format', () => {
  it('is pretty on a terminal and JSON elsewhere unless told', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('auto', undefined)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('turns a pino line into time, level, message and fields', () => {
    const line = JSON.stringify({
      level: 30,
      time: Date.parse('2025-11-10T12:51:07Z'),
      service: 'falconer',
      port: 2804,
      receivers: ['console'],
      msg: 'falconer listening',
    });
    expect(prettyLine(line)).toBe('12:51:07  INFO   falconer listening  port=2804  receivers=["console"]');
  });

  it('keeps redacting secrets in pretty mode', () => {
    const { text, stream } = capture();
    createLogger('info', stream, 'pretty').info({ token: 'xoxb-secret', receiver: { password: 'hunter2' } }, 'configured');
    expect(text()).toMatch(/^\d\d:\d\d:\d\d {2}INFO {3}configured {2}token=\[redacted\]/);
    expect(text()).not.toMatch(/xoxb-secret|hunter2/);
  });

  it('writes JSON lines by default', () => {
    const { text, stream } = capture();
    createLogger('info', stream).info({ port: 1 }, 'hello');
    expect(JSON.parse(text())).toMatchObject({ level: 30, port: 1, msg: 'hello', service: 'falconer' });
  });

  it('escapes control characters and line separators', () => {
    expect(terminalSafe('a\u001b[31mb\r\nc\u2028d')).toBe('a\\u001b[31mb\\u000d\\u000ac\\u2028d');
  });
});
