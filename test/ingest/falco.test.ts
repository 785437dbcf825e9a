import { normaliseFalco } from '../../src/ingest/falco';
import { parseJson } from '../../src/ingest/json';
import { InvalidEventError } from '../../src/core/errors';
import type { JsonObject } from '../../src/core/event';
import { falcoEvent, sampleText } from '../support/events';

const ctx = { cluster: 'prod', receivedAt: 1000, maxFieldLength: 64 };
const fromText = (text: string) => normaliseFalco(parseJson(text, { maxDepth: 64 }) as JsonObject, ctx);
const fromObject = (o: Record<string, unknown>) => fromText(JSON.stringify(o));

describe('normaliseFalco', () => {
  it('normalises the Falcosidekick sample, keeping evt.time exact and the uuid as id', () => {
    const e = fromText(sampleText('falco-terminal-shell.json'));
    expect(e.id).toBe('5b1f0c2e-8a44-4c3e-9d1a-2f6f3b7e9a10');
    expect(e.source).toBe('falco');
    expect(e.falco?.rule).toBe('Terminal shell in container');
    expect(e.falco?.priority).toBe('notice');
    expect(e.falco?.fields['evt.time']).toBe('1762779060891344775');
    expect(e.timeNs).toBe('1762779060891344775');
    expect(e.time).toBe('2025-11-10T12:51:00.891344775Z');
    expect(e.k8s).toEqual({
      cluster: 'prod',
      namespace: 'shop',
      pod: 'web-7c9f8d-abcde',
      container: 'nginx',
      containerId: '734cfc07ae4d',
      image: 'docker.io/library/nginx:1.27',
    });
    expect(e.process).toEqual({ name: 'bash', cmdline: 'bash', tty: 34816, user: 'root' });
  });

  it('holds the same fields whether the payload needed nothing cut (its object is used) or something (a copy)', () => {
    const clean = { 'proc.name': 'bash', 'proc.tty': 34816, 'k8s.pod.name': null, ok: true };
    const a = fromObject(falcoEvent({ output_fields: clean }));
    expect(a.falco?.fields).toEqual(clean);
    expect(a.raw.output_fields).toEqual(clean);

    // A nested value is a JSON string in fields, still an object in raw; an over-long one is cut in both.
    const b = fromObject(falcoEvent({ output_fields: { 'proc.name': 'bash', nested: { a: [1] }, long: 'x'.repeat(100) } }));
    expect(b.falco?.fields).toEqual({ 'proc.name': 'bash', nested: '{"a":[1]}', long: `${'x'.repeat(64)}…[truncated]` });
    expect(b.raw.output_fields).toEqual({ 'proc.name': 'bash', nested: { a: [1] }, long: `${'x'.repeat(64)}…[truncated]` });

    // A lone surrogate anywhere in the payload: fields are bounded and well-formed all the same.
    const c = fromText(
      `{"rule":"r","priority":"Notice","time":"2025-11-10T12:51:00Z","output":"\\ud800","output_fields":{"k":"\\udc00v"}}`,
    );
    expect(c.falco?.fields).toEqual({ k: '\ufffdv' });
    expect(c.falco?.output).toBe('\ufffd');
  });

  it("normalises Falco's own http_output (no uuid, null values, bracketed fields) with a stable id", () => {
    const text = sampleText('falco-raw-http-output.json');
    const a = fromText(text);
    const b = fromText(text);
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.id).toBe(b.id);
    expect(a.falco?.fields).toBeDefined();
    expect(Object.values(a.falco!.fields)).toContain(null);
  });

  it('normalises a k8saudit plugin event, taking namespace and user from ka.* fields', () => {
    const e = fromText(sampleText('falco-k8saudit-exec.json'));
    expect(e.falco?.source).toBe('k8s_audit');
    expect(e.actor?.user).toBeTruthy();
    expect(e.k8s.namespace).toBeTruthy();
  });

  it.each([
    ['Critical', 'critical'],
    ['WARNING', 'warning'],
    ['info', 'informational'],
    ['Informational', 'informational'],
    ['debug', 'debug'],
    ['EMERGENCY', 'emergency'],
  ])('accepts priority %p as %p', (given, expected) => {
    expect(fromObject(falcoEvent({ priority: given })).falco?.priority).toBe(expected);
  });

  it.each(['syscall', 'syscalls', 'k8s_audit', 'internal', 'aws_cloudtrail'])('keeps source %p', (source) => {
    expect(fromObject(falcoEvent({ source })).falco?.source).toBe(source);
  });

  it('tolerates unknown keys and keeps them in raw', () => {
    const e = fromObject(falcoEvent({ message: 'hi', somethingNew: { a: 1 } }));
    expect(e.raw.somethingNew).toEqual({ a: 1 });
  });

  it('treats <NA> and null k8s fields as absent', () => {
    const e = fromObject(falcoEvent({ output_fields: { 'k8s.ns.name': '<NA>', 'k8s.pod.name': null, 'container.id': 'host' } }));
    expect(e.k8s.namespace).toBeUndefined();
    expect(e.k8s.pod).toBeUndefined();
    expect(e.k8s.containerId).toBe('host');
  });

  it('falls back to evt.time when time is missing', () => {
    const e = fromText('{"rule":"r","priority":"Notice","output":"o","output_fields":{"evt.time":1762779060891344775}}');
    expect(e.timeNs).toBe('1762779060891344775');
    expect(e.time).toBe('2025-11-10T12:51:00.891344775Z');
  });

  it('cuts over-long strings and marks them', () => {
    const e = fromObject(falcoEvent({ output_fields: { 'proc.cmdline': 'x'.repeat(500) } }));
    expect(e.process?.cmdline).toBe('x'.repeat(64) + '…[truncated]');
  });

  it.each([
    ['missing rule', { rule: undefined }, /rule/],
    ['empty rule', { rule: '  ' }, /rule/],
    ['unknown priority', { priority: 'Severe' }, /priority/],
    ['no time at all', { time: undefined, output_fields: {} }, /time/],
    ['zero time', { time: '1970-01-01T00:00:00Z', output_fields: {} }, /time/],
    ['output_fields not an object', { output_fields: [1, 2] }, /output_fields/],
  ])('rejects %s', (_name, overrides, message) => {
    expect(() => fromObject(falcoEvent(overrides))).toThrow(InvalidEventError);
    expect(() => fromObject(falcoEvent(overrides))).toThrow(message);
  });
});
