import { manifestsToState, parseManifestFile } from '../../src/posture/manifests';
import { buildPosture } from '../../src/posture/report';

const YAML = `# rendered by helm template
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:1, securityContext: {privileged: true}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: job:1}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
`;

describe('manifests as a snapshot', () => {
  const docs = parseManifestFile('deploy/app.yaml', YAML);

  it('each document knows its first line', () => {
    expect(docs.map((d) => d.location.line)).toEqual([2, 8, 17, 27]);
  });

  it('workloads stand for a pod of their template; unnamespaced objects go to default; other kinds are skipped', () => {
    const { state, sources, loaded, skipped } = manifestsToState(docs);
    expect([loaded, skipped]).toEqual([3, 1]);
    expect(state.pod('shop', 'web-template')?.metadata.ownerReferences).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(state.pod('default', 'nightly-template')?.metadata.ownerReferences).toEqual([{ kind: 'CronJob', name: 'nightly' }]);
    expect(sources.get('Deployment shop/web')).toEqual({ file: 'deploy/app.yaml', line: 8 });
  });

  it("a template that its namespace's enforce level rejects is a finding located at the workload", () => {
    const { state } = manifestsToState(docs);
    const report = buildPosture(state, { now: 0, areas: ['pss'] });
    const f = report.pss!.findings.find((x) => x.id === 'pss.pod-violates-enforce')!;
    expect(f.object).toEqual({ kind: 'Deployment', namespace: 'shop', name: 'web' });
    expect(f.title).toContain('privileged');
  });
});
