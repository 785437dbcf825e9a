import { normaliseFalco } from '../../src/ingest/falco';
import { normaliseAudit } from '../../src/ingest/audit';
import { parseJson } from '../../src/ingest/json';
import type { Json } from '../../src/core/event';

// The bench's bodies must be what it claims: valid events Falconer accepts, every one distinct, with
// the stated share of repeated activities.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { falcoEvents, auditLists } = require('../../bench/events') as {
  falcoEvents: (o?: object) => () => string;
  auditLists: (o?: object) => () => string;
};

const ctx = { cluster: 'bench', receivedAt: 0, maxFieldLength: 4096 };
const parse = (text: string) => parseJson(text, { maxDepth: 64 }) as Record<string, Json>;

describe('bench events', () => {
  it('Falco events are distinct in uuid and nanosecond time, over many pods and rules, with about the stated repeats', () => {
    const next = falcoEvents({ pods: 500, tag: 'test' });
    const events = Array.from({ length: 5000 }, () => normaliseFalco(parse(next()), ctx));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(new Set(events.map((e) => e.timeNs)).size).toBe(events.length);
    expect(new Set(events.map((e) => e.k8s.pod)).size).toBeGreaterThan(400);
    expect(new Set(events.map((e) => e.falco?.rule)).size).toBe(12);
    expect(new Set(events.map((e) => e.falco?.priority)).size).toBeGreaterThanOrEqual(3);
    const activities = new Set(events.map((e) => `${e.falco?.rule}\0${e.k8s.pod}\0${e.k8s.container}\0${e.process?.cmdline}`));
    const repeats = 1 - activities.size / events.length;
    expect(repeats).toBeGreaterThan(0.15);
    expect(repeats).toBeLessThan(0.25);
  });

  it('audit EventLists have the asked size, distinct auditIDs, both levels, and one in ten alerting', () => {
    const next = auditLists({ size: 400, tag: 'test' });
    const lists = [parse(next()), parse(next())];
    const items = lists.flatMap((l) => l.items as Record<string, Json>[]);
    expect(items).toHaveLength(800);
    expect(new Set(items.map((i) => i.auditID)).size).toBe(800);
    const events = items.map((i) => normaliseAudit(i, ctx));
    expect(events).toHaveLength(800);
    const levels = new Set(items.map((i) => i.level));
    expect(levels).toEqual(new Set(['Metadata', 'RequestResponse']));
    const notConfigMaps = items.filter((i) => (i.objectRef as Record<string, Json>).resource !== 'configmaps');
    expect(notConfigMaps).toHaveLength(80);
  });
});
