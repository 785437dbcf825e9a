/**
 * Falconer's posture findings on the sample cluster (test/fixtures/posture/cluster.yaml) against what the
 * anchors' documented semantics give for the same objects. The expectations are reasoned from the docs,
 * object by object, not copied from Falconer's output:
 * - kubescape controls: C-0035 "Administrative Roles" / C-0185 "Cluster-admin role is only used where
 *   required" (any subject bound to cluster-admin or a * on * role), C-0187 "Minimize wildcard use in
 *   Roles and ClusterRoles" (CIS 5.1.3), C-0189 "Ensure that default service accounts are not actively
 *   used" (CIS 5.1.5), C-0015/C-0186 "List Kubernetes secrets" / "Minimize access to secrets" (CIS 5.1.2),
 *   C-0188 "Minimize access to create pods" (CIS 5.1.4), C-0260 "Missing network policy";
 *   `kubescape predict pss`: a namespace's effective level is the lowest level any of its workloads passes.
 * - rbac-tool `analysis`: risky rules per subject (secret readers, exec, impersonation, nodes/proxy).
 * - Pod Security admission (FACTS.md §5, api/helpers.go PolicyToEvaluate): unset labels default to
 *   privileged:latest; warn follows a valid, stricter enforce unless warn is set; audit never does; an
 *   invalid enforce level evaluates as restricted.
 * - netpol-analyzer `list` (docs/connlist_output.md): `src => dst : conn` per workload pair, allowed when
 *   the source's egress and the destination's ingress both allow; an unisolated direction is `All
 *   Connections`, and external addresses appear as IP ranges (`0.0.0.0-255.255.255.255`).
 */
import { join } from 'node:path';
import { loadSnapshot } from '../../src/enrich/cluster-state/snapshot';
import { Connectivity, connectionsDot } from '../../src/posture/network';
import { buildPosture, allFindings } from '../../src/posture/report';

const FIXTURE = join(__dirname, '../fixtures/posture/cluster.yaml');
const { state } = loadSnapshot(FIXTURE, 'sample');
const report = buildPosture(state, { now: 0 });
const findings = allFindings(report);
const keysOf = (id: string) =>
  findings
    .filter((f) => f.id === id)
    .map((f) => f.key.slice(id.length + 1))
    .sort();

describe('sample cluster: RBAC audit', () => {
  it('the snapshot is the one described (13 namespaces, bootstrap roles present)', () => {
    expect(state.size().namespaces).toBe(13);
    expect(state.clusterRole('system:controller:generic-garbage-collector')).toBeDefined();
  });

  it('cluster-admin or equivalent: the four subjects bound to cluster-admin or a * on * role, plus system:masters from the bootstrap policy', () => {
    const admins = report.rbac!.clusterAdmins.map(
      (a) =>
        `${a.subject.kind}:${a.subject.namespace ?? ''}:${a.subject.name} via ${a.binding.name}${a.builtin ? ' (bootstrap)' : ''}`,
    );
    expect(admins.sort()).toEqual([
      'Group::kubeadm:cluster-admins via kubeadm:cluster-admins',
      'Group::ops via ops-admins',
      'Group::system:masters via cluster-admin (bootstrap)',
      'ServiceAccount:ci:deployer via ci-deployer',
      'User::alice@example.com via ops-admins',
    ]);
    // The bootstrap one is listed, but is no finding to fix.
    expect(findings.filter((f) => f.id === 'rbac.cluster-admin' && !f.builtin)).toHaveLength(4);
  });

  it('wildcard roles (C-0187): only the two custom ones; bootstrap roles are the platform', () => {
    expect(keysOf('rbac.wildcard-role')).toEqual(['ClusterRole//ci-deployer', 'ClusterRole//monitoring-reader']);
    const sev = Object.fromEntries(findings.filter((f) => f.id === 'rbac.wildcard-role').map((f) => [f.object.name, f.severity]));
    expect(sev).toEqual({ 'ci-deployer': 'high', 'monitoring-reader': 'medium' });
  });

  it('bindings to service accounts that do not exist, and to a role that does not exist', () => {
    expect(keysOf('rbac.binding-to-missing-serviceaccount')).toEqual([
      'RoleBinding/batch/old-worker/batch/old-worker',
      'RoleBinding/monitoring/grafana/monitoring/grafana',
    ]);
    expect(keysOf('rbac.binding-missing-role')).toEqual(['RoleBinding/monitoring/grafana']);
  });

  it('roles no binding uses (aggregated and system roles excepted)', () => {
    expect(keysOf('rbac.unused-role')).toEqual(['ClusterRole//temp-debug', 'Role/legacy/unused-reader']);
  });

  it('default service accounts with permissions (C-0189): dev/default through edit', () => {
    expect(keysOf('rbac.default-serviceaccount-bound')).toEqual(['dev']);
  });

  it('pods whose service account can read secrets or create workloads (C-0186, C-0188)', () => {
    expect(keysOf('rbac.pod-can-read-secrets')).toEqual(['ci/runner', 'dev/default', 'monitoring/prometheus']);
    expect(keysOf('rbac.pod-can-create-workloads')).toEqual(['ci/runner', 'dev/default']);
    // A grant limited to one named secret (payments/api → stripe-key) is a narrower finding, not this one.
    const api = report.rbac!.subjects.find((s) => s.subject.name === 'api' && s.subject.namespace === 'payments')!;
    expect(api.findings.map((f) => [f.id, f.severity, f.resourceNames])).toEqual([['secrets-read', 'medium', ['stripe-key']]]);
  });

  it('risky permissions ranked per subject (rbac-tool analysis): prometheus reaches the kubelet through both of its roles', () => {
    const prom = report.rbac!.subjects.find((s) => s.subject.name === 'prometheus')!;
    expect(prom.worst).toBe('critical');
    expect(prom.findings[0]!.id).toBe('nodes-proxy');
    expect(new Set(prom.findings.map((f) => f.id))).toEqual(new Set(['nodes-proxy', 'secrets-read', 'pods-exec', 'pods-attach']));
    const devTeam = report.rbac!.subjects.find((s) => s.subject.name === 'dev-team')!;
    expect(devTeam.findings.every((f) => f.scope === 'staging')).toBe(true);
    expect(devTeam.findings.map((f) => f.id)).toContain('rolebinding-create');
    // Bootstrap-policy controllers (generic-garbage-collector reads everything) are not subjects to fix.
    expect(report.rbac!.subjects.some((s) => s.subject.namespace === 'kube-system')).toBe(false);
  });
});

describe('sample cluster: Pod Security coverage (kubescape predict pss semantics)', () => {
  const ns = (name: string) => report.pss!.namespaces.find((n) => n.namespace === name)!;

  it.each([
    // namespace, effective enforce/audit/warn, highest level all pods meet
    ['payments', 'restricted:latest', 'privileged:latest', 'restricted:latest', 'restricted'],
    ['shop', 'baseline:latest', 'restricted:latest', 'restricted:latest', 'baseline'],
    ['batch', 'baseline:latest', 'privileged:latest', 'baseline:latest', 'restricted'],
    ['ci', 'baseline:latest', 'privileged:latest', 'restricted:latest', 'restricted'],
    ['legacy', 'restricted:latest', 'privileged:latest', 'privileged:latest', 'baseline'],
    ['kube-system', 'privileged:latest', 'privileged:latest', 'privileged:latest', 'privileged'],
    ['default', 'privileged:latest', 'privileged:latest', 'privileged:latest', 'restricted'],
  ])('%s: %s / %s / %s, all pods meet %s', (name, enforce, audit, warn, highest) => {
    expect([ns(name).enforce, ns(name).audit, ns(name).warn, ns(name).highestLevel]).toEqual([enforce, audit, warn, highest]);
  });

  it('verdicts: can enforce restricted, or which pods block it', () => {
    expect(ns('batch').verdict).toBe('can enforce restricted');
    expect(ns('shop').verdict).toBe('3 pods block restricted: Deployment/api');
    expect(ns('shop').blockers[0]!.workloads[0]!.violations).toContain('runAsNonRoot != true');
  });

  it('namespaces without enforce, enforce that can be raised, invalid labels', () => {
    expect(keysOf('pss.no-enforce')).toEqual(['default', 'dev', 'kube-node-lease', 'kube-public', 'kube-system']);
    expect(keysOf('pss.enforce-can-be-raised')).toEqual(['batch', 'ci']);
    expect(keysOf('pss.invalid-label')).toEqual(['legacy/pod-security.kubernetes.io/enforce']);
  });

  it("pods violating their own namespace's levels", () => {
    expect(keysOf('pss.pod-violates-enforce')).toEqual(['legacy/Deployment/billing', 'staging/Deployment/cache']);
    expect(keysOf('pss.pod-violates-audit')).toEqual(['shop/Deployment/api']);
    // staging's warn follows its enforce (no warn label); legacy's invalid enforce does not raise warn.
    expect(keysOf('pss.pod-violates-warn')).toEqual(['shop/Deployment/api', 'staging/Deployment/cache']);
  });
});

describe('sample cluster: network', () => {
  it('namespaces without a default-deny policy per direction', () => {
    const noIngress = keysOf('network.no-default-deny-ingress');
    const noEgress = keysOf('network.no-default-deny-egress');
    const all = report.network!.namespaces.map((n) => n.namespace);
    expect(all.filter((n) => !noIngress.includes(n))).toEqual(['payments', 'shop', 'staging']);
    expect(all.filter((n) => !noEgress.includes(n))).toEqual(['batch', 'payments', 'staging']);
  });

  it('pods isolated in neither direction (C-0260)', () => {
    expect(keysOf('network.pod-not-isolated')).toEqual([
      'ci/Deployment/runner',
      'dev/Deployment/sandbox',
      'dev/Pod/debug-tools',
      'ingress-nginx/Deployment/ingress-nginx-controller',
      'kube-system/DaemonSet/kube-proxy',
      'kube-system/Deployment/coredns',
      'kube-system/Pod/etcd-cp-1',
      'legacy/Deployment/billing',
      'monitoring/Deployment/prometheus',
    ]);
  });
});

describe('sample cluster: netpol peers vs netpol-analyzer connectivity', () => {
  const net = new Connectivity(state);
  const lines = (filter: { namespace?: string; peer?: string }) =>
    net.connections(filter).map((c) => `${c.src} => ${c.dst} : ${c.conn}`);

  it('payments: only shop/web may reach the api, only the api the db, and the api only the db and DNS', () => {
    expect(lines({ namespace: 'payments' })).toEqual([
      'payments/api[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53',
      'payments/api[Deployment] => payments/db[StatefulSet] : TCP 5432',
      'shop/web[Deployment] => payments/api[Deployment] : TCP 8080',
    ]);
  });

  it('a workload no policy isolates: any address and every workload in, anything out', () => {
    const l = lines({ peer: 'ingress-nginx/ingress-nginx-controller[Deployment]' });
    expect(l).toContain('0.0.0.0-255.255.255.255 => ingress-nginx/ingress-nginx-controller[Deployment] : All Connections');
    expect(l).toContain('ingress-nginx/ingress-nginx-controller[Deployment] => 0.0.0.0-255.255.255.255 : All Connections');
    expect(l).toContain('ingress-nginx/ingress-nginx-controller[Deployment] => shop/web[Deployment] : TCP 8080');
    // payments' default-deny keeps it out of payments, whatever its own egress allows.
    expect(l.some((x) => x.includes('payments/'))).toBe(false);
  });

  it('ipBlock with except: the allowed ranges, split where the exception cuts', () => {
    expect(lines({ peer: 'batch/report-28912345[Job]' }).filter((l) => l.startsWith('batch/'))).toEqual([
      'batch/report-28912345[Job] => 10.0.0.0-10.0.255.255 : TCP 443',
      'batch/report-28912345[Job] => 10.2.0.0-10.255.255.255 : TCP 443',
    ]);
  });

  it('omitted policyTypes default to Ingress only (shop/api-from-web)', () => {
    const l = lines({ peer: 'shop/api[Deployment]' });
    expect(l.filter((x) => x.endsWith('=> shop/api[Deployment] : TCP 9090'))).toEqual([
      'shop/web[Deployment] => shop/api[Deployment] : TCP 9090',
    ]);
    expect(l).toContain('shop/api[Deployment] => 0.0.0.0-255.255.255.255 : All Connections');
  });

  it('a namespace with default-deny in both directions has no connections at all', () => {
    expect(lines({ namespace: 'staging' })).toEqual([]);
  });

  it('podPeers answers for one pod: isolation, selecting policies, rules and peers', () => {
    const p = net.podPeers('payments', 'api-59d7c8f6b-ax0q')!;
    expect(p.workload).toBe('payments/api[Deployment]');
    expect(p.ingress).toMatchObject({ isolated: true, defaultDeny: true, policies: ['api-from-shop', 'default-deny'] });
    expect(p.ingress.rules).toEqual([
      { policy: 'api-from-shop', peers: ['pods app=web in namespaces kubernetes.io/metadata.name=shop'], ports: 'TCP 8080' },
    ]);
    expect(p.ingress.peers).toEqual([{ peer: 'shop/web[Deployment]', conn: 'TCP 8080' }]);
    expect(p.egress.peers.map((x) => x.peer)).toEqual(['kube-system/coredns[Deployment]', 'payments/db[StatefulSet]']);
  });

  it('DOT: namespaces as frames, one edge per connection, names quoted', () => {
    const dot = connectionsDot(net.connections({ namespace: 'payments' }));
    expect(dot.startsWith('digraph {')).toBe(true);
    expect(dot).toContain('subgraph "cluster_payments" {');
    expect(dot).toContain(
      '"shop/web[Deployment]" -> "payments/api[Deployment]" [label="TCP 8080" color="gold2" fontcolor="darkgreen"]',
    );
    expect(dot.match(/->/g)).toHaveLength(3);
  });
});
