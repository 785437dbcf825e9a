import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { sampleText } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';
import { FakeSlack } from '../support/slack-server';
import { one, revised } from './fixtures';

const CLUSTER_SNAPSHOT = join(__dirname, '../fixtures/cluster/snapshot.json');

/** The sample cluster's web pod (ReplicaSet web-7c9f8d, container nginx) with trivy and Kyverno findings. */
function snapshotWithFindings(): string {
  const cluster = JSON.parse(readFileSync(CLUSTER_SNAPSHOT, 'utf8')) as { items: unknown[] };
  const vulns = revised(one('vulnerabilityreport'), (o) => {
    o.metadata.name = 'replicaset-web-7c9f8d-nginx';
    o.metadata.labels['trivy-operator.resource.name'] = 'web-7c9f8d';
    o.metadata.labels['trivy-operator.container.name'] = 'nginx';
    o.report.vulnerabilities[1].title = '<!channel> *pwned* `x`';
    o.report.vulnerabilities[1].resource = '<https://evil.example|libc6>';
  });
  const policy = revised(
    one('policyreport'),
    (o) => (o.scope = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'falconer-findings-'));
  const file = join(dir, 'state.json');
  writeFileSync(file, JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [...cluster.items, vulns, policy] }));
  return file;
}

describe('findings in the alert: Slack (real @slack/web-api, local server) and GET /v1/findings', () => {
  let slack: FakeSlack;
  let f: RunningFalconer;

  beforeEach(async () => {
    slack = new FakeSlack();
    const apiUrl = await slack.start();
    f = await startTestFalconer({
      enrichment: { snapshots: [snapshotWithFindings()] },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-test-token', channel: '#security', apiUrl }],
    });
  });
  afterEach(async () => {
    await f.stop();
    await slack.stop();
  });

  it('puts a compact, escaped vulnerabilities and policy line on a runtime alert about the pod', async () => {
    const r = await post(`${f.url}/v1/events/falco`, sampleText('falco-terminal-shell.json'));
    expect(r.status).toBe(202);
    await eventually(() => expect(slack.posts).toHaveLength(1));
    const text = JSON.stringify(slack.posts[0]?.args.attachments);
    expect(text).toContain('*Vulnerabilities* 1 critical, 2 high, 1 medium (2 fixable)');
    expect(text).toContain('CVE-2024-2961');
    // Dots get a zero-width space so Slack links nothing; the version reads the same.
    expect(text.replace(/\u200b/g, '')).toContain(
      '(&lt;https://evil.example|libc6&gt; → 2.36-9+deb12u7) in library/nginx:1.25.3',
    );
    // The hostile package name reaches Slack as text, never as a link or a mention.
    expect(text).not.toContain('<https://evil');
    expect(text).toContain('&lt;https');
    expect(text).toContain(
      '*Policy* 2 failing: high disallow-privileged-containers/autogen-privileged-containers on Deployment shop/web',
    );
    expect(f.recent.list()).toHaveLength(1);
    const alert = f.recent.list()[0]!;
    expect(alert.enrichment.vulnerabilities).toMatchObject({ critical: 1, criticalFixable: 1 });
    expect(alert.enrichment.vulnerabilities?.images[0]).toMatchObject({ container: 'nginx', image: 'library/nginx:1.25.3' });

    const api = await fetch(`${f.url}/v1/alerts/${alert.fingerprint}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    const body = (await api.json()) as { enrichment: { policy: { failing: number } } };
    expect(body.enrichment.policy.failing).toBe(2);
  });

  it('lists the current state per workload at GET /v1/findings (read scope), without alerting it', async () => {
    const res = await fetch(`${f.url}/v1/findings`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    const cluster = body.clusters.find((c: any) => c.cluster === 'default');
    expect(cluster.reports).toBe(2);
    const names = cluster.workloads.map((w: any) => `${w.resource.kind}/${w.resource.name}`);
    expect(names).toEqual(['Deployment/web', 'ReplicaSet/web-7c9f8d']);
    expect(cluster.workloads[1].vulnerabilities.images[0].top[0]).toMatchObject({
      id: 'CVE-2024-2961',
      fixedVersion: '2.36-9+deb12u7',
    });
    expect(slack.posts).toHaveLength(0);
    const anonymous = await fetch(`${f.url}/v1/findings`);
    expect(anonymous.status).toBe(401);
  });
});
