import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSnapshot } from '../../src/enrich/cluster-state/snapshot';
import { FINDING_KINDS } from '../../src/posture/catalogue';
import { allFindings, buildPosture } from '../../src/posture/report';

const DOC = readFileSync(join(__dirname, '../../docs/posture.md'), 'utf8');

describe('finding catalogue', () => {
  it('every id the reports produce on the sample cluster is catalogued', () => {
    const { state } = loadSnapshot(join(__dirname, '../fixtures/posture/cluster.yaml'), 'sample');
    const ids = new Set(allFindings(buildPosture(state, { now: 0 })).map((f) => f.id));
    const known = new Set(FINDING_KINDS.map((k) => k.id));
    expect([...ids].filter((id) => !known.has(id))).toEqual([]);
    expect(ids.size).toBeGreaterThan(20);
  });

  it('docs/posture.md explains every catalogued id', () => {
    expect(FINDING_KINDS.map((k) => k.id).filter((id) => !DOC.includes(`\`${id}\``))).toEqual([]);
  });
});
