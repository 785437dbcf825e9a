import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { sample } from '../support/events';
import { eventually, post, startTestFalconer } from '../support/falconer';
import { one, revised } from './fixtures';

const CLUSTER_SNAPSHOT = join(__dirname, '../fixtures/cluster/snapshot.json');

/** The sample cluster, plus findings about the web pod (ReplicaSet web-7c9f8d, container nginx). */
function snapshot(findings: unknown[]): string {
  const cluster = JSON.parse(readFileSync(CLUSTER_SNAPSHOT, 'utf8')) as { items: unknown[] };
  const file = join(mkdtempSync(join(tmpdir(), 'falconer-escalate-')), 'state.json');
  writeFileSync(file, JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [...cluster.items, ...findings] }));
  return file;
}

const webVulnerabilities = (fixed: boolean) =>
  revised(one('vulnerabilityreport'), (o) => {
    o.metadata.name = 'replicaset-web-7c9f8d-nginx';
    o.metadata.labels['trivy-operator.resource.name'] = 'web-7c9f8d';
    o.metadata.labels['trivy-operator.container.name'] = 'nginx';
    if (!fixed) for (const v of o.report.vulnerabilities) if (v.severity === 'CRITICAL') v.fixedVersion = '';
  });
const webPolicy = () =>
  revised(one('policyreport'), (o) => (o.scope = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }));

const shell = sample('falco-terminal-shell.json');
const write = { ...shell, uuid: '7d2a61c0-1f3b-4c55-9e0a-3b8f5d6c7e21', rule: 'Write below etc', priority: 'Warning' };

describe('rules over the enrichment, through the running service (snapshot state)', () => {
  let f: RunningFalconer | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  async function alertsFor(findings: unknown[], event: object) {
    f = await startTestFalconer({ enrichment: { snapshots: [snapshot(findings)] } });
    const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(event));
    expect(r.status).toBe(202);
    await eventually(() => expect(f!.recent.list()).toHaveLength(1));
    return f.recent.list()[0]!;
  }

  it('raises "Terminal shell in container" to critical when the image has a critical fixable CVE', async () => {
    const alert = await alertsFor([webVulnerabilities(true)], shell);
    expect(alert.rule).toBe('Terminal shell in container');
    expect(alert.priority).toBe('critical');
    expect(alert.tags).toContain('vulnerability');
    expect(alert.enrichment.vulnerabilities).toMatchObject({ criticalFixable: 1 });
  });

  it("keeps Falco's priority when the critical CVE has no fix", async () => {
    const alert = await alertsFor([webVulnerabilities(false)], shell);
    expect(alert.enrichment.vulnerabilities).toMatchObject({ critical: 1, criticalFixable: 0 });
    expect(alert.priority).toBe('notice');
    expect(alert.tags).not.toContain('vulnerability');
  });

  it('raises a warning in a pod failing a high Kyverno policy to error, and not without the report', async () => {
    const raised = await alertsFor([webPolicy()], write);
    expect(raised.enrichment.policy?.results[0]).toMatchObject({ source: 'kyverno', severity: 'high' });
    expect(raised.priority).toBe('error');
    expect(raised.tags).toContain('policy');
    await f!.stop();
    const plain = await alertsFor([], write);
    expect(plain.enrichment.policy).toBeUndefined();
    expect(plain.priority).toBe('warning');
  });
});
