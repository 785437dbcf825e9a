import { CUT_MARKER, EVIDENCE_RAW_BYTES, evidenceOf } from '../../src/alert/evidence';
import { normaliseAudit } from '../../src/ingest/audit';
import { falcoSecurityEvent } from '../support/alerts';

describe('evidenceOf', () => {
  it('keeps a small event as it is', () => {
    const e = falcoSecurityEvent();
    expect(evidenceOf(e)).toBe(e);
  });

  it('cuts a big raw payload to its first fields, within the budget, and marks the cut', () => {
    const e = normaliseAudit(
      {
        auditID: 'a-1',
        stage: 'ResponseComplete',
        verb: 'create',
        user: { username: 'alice' },
        objectRef: { resource: 'configmaps', namespace: 'ns', name: 'big' },
        requestObject: { data: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(4000)])) },
        stageTimestamp: '2025-11-10T12:50:59.431907Z',
      },
      { cluster: 'c', receivedAt: 0, maxFieldLength: 16 * 1024 },
    );
    expect(e.sizeBytes).toBeGreaterThan(EVIDENCE_RAW_BYTES * 50);
    const kept = evidenceOf(e);
    expect(kept.raw.auditID).toBe('a-1');
    expect(kept.raw.objectRef).toEqual({ resource: 'configmaps', namespace: 'ns', name: 'big' });
    expect(kept.audit).toBe(e.audit);
    expect(JSON.stringify(kept.raw).length).toBeLessThan(EVIDENCE_RAW_BYTES);
    expect(JSON.stringify(kept.raw)).toContain(CUT_MARKER);
    expect(e.raw.requestObject).toBeDefined(); // the event itself is untouched
    expect(Object.keys((e.raw.requestObject as { data: object }).data)).toHaveLength(200);
  });
});
