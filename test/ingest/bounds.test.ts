import type { JsonObject } from '../../src/core/event';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { parseJsonWithFacts } from '../../src/ingest/json';
import { boundId, boundJson, limitString, MAX_ID_LENGTH, MAX_NAME_LENGTH } from '../../src/ingest/normalise';
import { falcoEvent } from '../support/events';

const ctx = { cluster: 'c', receivedAt: 0, maxFieldLength: 1024 };
const huge = 'x'.repeat(1024 * 1024);

/** Every string anywhere in a value (keys too), for "nothing over N" checks. */
function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      allStrings(x, out);
    }
  return out;
}

describe('limitString', () => {
  it('cuts between code points, never inside a surrogate pair', () => {
    const s = 'a'.repeat(9) + '😀' + 'b'.repeat(10); // the emoji spans code units 9 and 10
    expect(limitString(s, 10)).toBe('a'.repeat(9) + '…[truncated]');
    expect(limitString(s, 11)).toBe('a'.repeat(9) + '😀' + '…[truncated]');
  });

  it('makes strings well-formed: a lone surrogate becomes U+FFFD, short or long', () => {
    expect(limitString('x\ud800', 64)).toBe('x\ufffd');
    expect(limitString('\udc00' + 'y'.repeat(100), 10)).toBe('\ufffd' + 'y'.repeat(9) + '…[truncated]');
    expect(limitString('ok', 64)).toBe('ok');
  });
});

describe('boundId', () => {
  it('keeps a short well-formed id, hashes an over-long or ill-formed one stably', () => {
    expect(boundId('a3c2f1e0-0000-4000-8000-000000000001')).toBe('a3c2f1e0-0000-4000-8000-000000000001');
    const long = boundId('u'.repeat(MAX_ID_LENGTH + 1));
    expect(long).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(boundId('u'.repeat(MAX_ID_LENGTH + 1))).toBe(long);
    expect(boundId('u'.repeat(MAX_ID_LENGTH + 2))).not.toBe(long);
    expect(boundId('id\ud800')).toMatch(/^sha256:/);
  });
});

describe('boundJson', () => {
  it('bounds every string and key, and estimates the bytes it holds', () => {
    const { value, bytes } = boundJson({ [huge]: huge, list: [huge, 1, null, { deep: huge }] }, 100);
    for (const s of allStrings(value)) expect(s.length).toBeLessThanOrEqual(100 + '…[truncated]'.length);
    expect(bytes).toBeGreaterThan(4 * 100);
    expect(bytes).toBeLessThan(10_000);
    expect(boundJson({ a: 'b' }, 100).bytes).toBeLessThan(bytes);
  });

  it('returns a payload with nothing to cut as it is, and copies one with a lone surrogate', () => {
    const fine = { a: 'b', list: [1, 'ü', { deep: '😀' }] };
    expect(boundJson(fine, 100).value).toBe(fine);
    const lone = { a: ['x\udc00'] };
    const bounded = boundJson(lone, 100).value;
    expect(bounded).not.toBe(lone);
    expect(bounded).toEqual({ a: ['x\ufffd'] });
    expect(lone.a[0]).toBe('x\udc00'); // the input is not changed
  });
});

describe('boundJson after the parser (what it learnt of the strings)', () => {
  const parsed = (text: string) => {
    const { value, strings } = parseJsonWithFacts(text, { maxDepth: 64 });
    return { value: value as JsonObject, strings };
  };

  it('skips the checks only when no string can need them, with the same bytes', () => {
    const { value, strings } = parsed('{"a":"b","list":[1,"ü",{"deep":"😀"}],"n":12345678901234567890}');
    expect(strings).toEqual({ longest: 20, wellFormed: true }); // the quoted big integer is the longest
    const fast = boundJson(value, 100, strings);
    expect(fast.value).toBe(value);
    expect(fast.bytes).toBe(boundJson(value, 100).bytes);
  });

  it.each([
    ['a value too long', `{"a":"${'x'.repeat(200)}"}`],
    ['a key too long', `{"${'k'.repeat(200)}":1}`],
    ['a big integer too long', `{"a":[${'9'.repeat(150)}]}`],
    ['a lone surrogate escape', '{"a":["x\\ud800"]}'],
    ['a lone low surrogate escape in a key', '{"\\uDC00":1}'],
    ['a surrogate pair escape', '{"a":"\\ud83d\\ude00"}'],
  ])('still bounds every string when there is %s', (_, text) => {
    const { value, strings } = parsed(text);
    const checked = boundJson(value, 100);
    const after = boundJson(value, 100, strings);
    expect(after).toEqual(checked);
    for (const s of allStrings(after.value)) {
      expect(s.length).toBeLessThanOrEqual(100 + '…[truncated]'.length);
      expect(s.isWellFormed()).toBe(true);
    }
  });

  it('says a text with a lone surrogate of its own is not well-formed', () => {
    expect(parsed('{"a":"x\ud800"}').strings.wellFormed).toBe(false);
    expect(parsed('{"a":"x\\\\ud800"}').strings.wellFormed).toBe(false); // an escaped backslash: a harmless yes
    expect(parsed('{"a":"\\u0026"}').strings.wellFormed).toBe(true); // Go's escape of &
  });

  it('audit: an EventList through the parser is bounded as one checked field by field', () => {
    const text = JSON.stringify({
      kind: 'EventList',
      items: [
        { auditID: 'a', stage: 'ResponseComplete', verb: 'get', user: { username: 'u' }, stageTimestamp: '2025-11-10T12:50:59Z' },
        {
          auditID: 'b',
          stage: 'ResponseComplete',
          verb: 'update',
          user: { username: 'u' },
          stageTimestamp: '2025-11-10T12:50:59Z',
          requestObject: { data: { big: 'y'.repeat(5000), [`k${'z'.repeat(2000)}`]: '\ud800' } },
        },
      ],
    }); // well-formed JSON.stringify writes the lone surrogate as its escape
    expect(text).toContain('"\\ud800"');
    const { value, strings } = parseJsonWithFacts(text, { maxDepth: 64 });
    expect(strings.wellFormed).toBe(false);
    const items = (value as JsonObject).items as JsonObject[];
    const [quiet, cut] = items.map((item) => normaliseAudit(item, { ...ctx, strings }));
    expect(quiet!.raw).toBe(items[0]);
    expect(quiet!.sizeBytes).toBe(normaliseAudit(items[0]!, ctx).sizeBytes);
    for (const s of allStrings(cut!.raw)) {
      expect(s.length).toBeLessThanOrEqual(1024 + '…[truncated]'.length);
      expect(s.isWellFormed()).toBe(true);
    }
    expect(cut!.raw).toEqual(normaliseAudit(items[1]!, ctx).raw);
  });
});

describe('normalised events hold bounded, well-formed fields only', () => {
  it('Falco: uuid, rule, hostname, tags, source, output-field keys and values, raw', () => {
    const body = falcoEvent({
      uuid: huge,
      rule: `rule\ud800${huge}`,
      hostname: huge,
      source: huge,
      output: huge,
      tags: Array.from({ length: 5000 }, () => huge.slice(0, 5000)),
      output_fields: { [huge]: 'v', 'proc.cmdline': huge, 'k8s.pod.name': huge },
    }) as JsonObject;
    const e = normaliseFalco(body, ctx);
    expect(e.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(normaliseFalco(body, ctx).id).toBe(e.id); // a retry dedups
    expect(e.falco!.rule.startsWith('rule\ufffd')).toBe(true);
    expect(e.falco!.tags.length).toBeLessThanOrEqual(256);
    const limit = 1024 + '…[truncated]'.length;
    const { raw, ...normalised } = e;
    for (const s of allStrings(normalised)) {
      expect(s.length).toBeLessThanOrEqual(limit);
      expect(s.isWellFormed()).toBe(true);
    }
    for (const s of allStrings(raw)) expect(s.length).toBeLessThanOrEqual(limit);
    expect(e.falco!.hostname!.length).toBeLessThanOrEqual(MAX_NAME_LENGTH + 20);
    expect(Object.keys(e.falco!.fields).every((k) => k.length <= MAX_NAME_LENGTH + 20)).toBe(true);
    // 5000 tags of 5 KB came in (25 MB); the raw copy keeps each cut to 1 KiB, the normalised list 256 of them.
    expect(JSON.stringify(normalised).length).toBeLessThan(256 * 600 + 20 * 1024);
    expect(e.sizeBytes).toBeGreaterThan(0);
  });

  it('audit: auditID, verb, user, groups, objectRef, annotations, raw', () => {
    const e = normaliseAudit(
      {
        auditID: huge,
        stage: 'ResponseComplete',
        verb: huge,
        requestURI: `/api/v1/namespaces/x/pods/y/exec?command=${'c'.repeat(5000)}&container=${'k'.repeat(5000)}`,
        user: { username: `u\udc00${huge}`, uid: huge, groups: Array.from({ length: 3000 }, (_, i) => `g${i}`) },
        impersonatedUser: { username: huge, groups: [huge] },
        sourceIPs: [huge],
        userAgent: huge,
        objectRef: { resource: 'pods', subresource: 'exec', namespace: huge, name: huge, apiGroup: huge, uid: huge },
        annotations: { [huge]: huge },
        requestObject: { spec: { containers: [{ image: huge }] } },
        stageTimestamp: '2025-11-10T12:50:59.431907Z',
      },
      ctx,
    );
    expect(e.id).toMatch(/^sha256:[0-9a-f]{64}\/ResponseComplete$/);
    expect(e.actor!.user.startsWith('u\ufffd')).toBe(true);
    expect(e.actor!.groups).toHaveLength(256);
    const limit = 1024 + '…[truncated]'.length;
    for (const s of allStrings(e)) {
      expect(s.length).toBeLessThanOrEqual(limit);
      expect(s.isWellFormed()).toBe(true);
    }
    expect(e.k8s.pod!.length).toBeLessThanOrEqual(MAX_NAME_LENGTH + 20);
    expect(e.sizeBytes).toBeGreaterThan(0);
    expect(e.sizeBytes).toBeLessThan(200_000);
  });
});
