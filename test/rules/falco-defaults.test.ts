/**
 * The rules that keep a Falco name ship with Falco's default, and rules/examples/quiet.yaml (which a user
 * copies into a rules folder) is where Falconer's own opinion lives. Upstream: falcosecurity/plugins
 * plugins/k8saudit/rules/k8s_audit_rules.yaml, where all 48 rules are `enabled` and five are kept silent by
 * a macro that is always true or never true (allowed_k8s_containers, consider_all_events,
 * allowed_full_admin_users, allow_all_k8s_nodes twice); Falconer ships those five `enabled: false`.
 */
import { join } from 'node:path';
import { BUILTIN_RULES_DIR, compileRuleSources } from '../../src/detect/engine';
import { fixtureToEvent, readFixtures, runFixtures } from '../../src/detect/fixtures';
import { readRuleSources, ruleFilesIn } from '../../src/detect/rules/load';
import { formatProblem } from '../../src/detect/rules/types';

const EXAMPLES_DIR = join(BUILTIN_RULES_DIR, 'examples');

/** Upstream's effective default per rule name: does the rule fire out of the box? */
const SILENT_UPSTREAM = [
  'Create Disallowed Pod',
  'All K8s Audit Events',
  'Full K8s Administrative Access',
  'Untrusted Node Successfully Joined the Cluster',
  'Untrusted Node Unsuccessfully Tried to Join the Cluster',
];
const FIRING_UPSTREAM = [
  'Disallowed K8s User',
  'Create Privileged Pod',
  'Create Sensitive Mount Pod',
  'Create HostNetwork Pod',
  'Create HostPid Pod',
  'Create HostIPC Pod',
  'Create NodePort Service',
  'Create/Modify Configmap With Private Credentials',
  'Anonymous Request Allowed',
  'Attach/Exec Pod',
  'port-forward',
  'EphemeralContainers Created',
  'Create Disallowed Namespace',
  'Pod Created in Kube Namespace',
  'Service Account Created in Kube Namespace',
  'System ClusterRole Modified/Deleted',
  'Attach to cluster-admin Role',
  'ClusterRole With Wildcard Created',
  'ClusterRole With Write Privileges Created',
  'ClusterRole With Pod Exec Created',
  ...['Deployment', 'Service', 'ConfigMap', 'Namespace', 'Serviceaccount', 'Role', 'ClusterRole', 'RoleBinding']
    .concat(['ClusterRoleBinding', 'Secret'])
    .flatMap((kind) => [`K8s ${kind} Created`, `K8s ${kind} Deleted`]),
  'K8s Secret Get Successfully',
  'K8s Secret Get Unsuccessfully Tried',
  'Ingress Object without TLS Certificate Created',
];

const builtin = compileRuleSources(readRuleSources([BUILTIN_RULES_DIR]));
const quiet = compileRuleSources(readRuleSources([BUILTIN_RULES_DIR, EXAMPLES_DIR]));

function byName(name: string) {
  const rule = builtin.ruleSet?.rules.find((r) => r.def.name === name);
  if (!rule) throw new Error(`no built-in rule named ${JSON.stringify(name)}`);
  return rule.def;
}

describe("rules with a Falco name ship with Falco's default", () => {
  it('covers all 48 upstream rules', () => {
    expect(new Set([...SILENT_UPSTREAM, ...FIRING_UPSTREAM]).size).toBe(48);
  });

  it.each(FIRING_UPSTREAM)('%s is enabled', (name) => {
    expect(byName(name).enabled).toBe(true);
  });

  it.each(SILENT_UPSTREAM)('%s is disabled (upstream: silenced by a macro)', (name) => {
    expect(byName(name).enabled).toBe(false);
  });
});

describe('rules/examples/quiet.yaml', () => {
  const createNamespace = (name: string) =>
    fixtureToEvent(
      { verb: 'create', objectRef: { resource: 'namespaces', name }, responseStatus: { code: 201 } },
      1,
      'k8s_audit',
    );
  const deleteDeployment = fixtureToEvent(
    {
      verb: 'delete',
      objectRef: { resource: 'deployments', apiGroup: 'apps', namespace: 'shop', name: 'web' },
      responseStatus: { code: 200 },
    },
    2,
    'k8s_audit',
  );
  const fired = (set: typeof builtin, event: ReturnType<typeof createNamespace>) =>
    (set.ruleSet?.detectAudit(event) ?? []).map((d) => d.rule).sort();

  it('is not part of the built-in pack', () => {
    expect(ruleFilesIn(BUILTIN_RULES_DIR).filter((f) => f.startsWith(EXAMPLES_DIR))).toEqual([]);
    expect(builtin.ruleSet?.rules.some((r) => r.def.origin.file.includes('examples'))).toBe(false);
  });

  it('loads over the built-in pack without problems', () => {
    expect(quiet.problems.map(formatProblem)).toEqual([]);
    expect(quiet.ruleSet?.size).toBe(builtin.ruleSet?.size);
  });

  it('silences Disallowed K8s User and the activity family, and nothing else', () => {
    // alice@example.com (the fixture user) is in no allowed list.
    expect(fired(builtin, createNamespace('cryptominer'))).toEqual([
      'Create Disallowed Namespace',
      'Disallowed K8s User',
      'K8s Namespace Created',
    ]);
    expect(fired(quiet, createNamespace('cryptominer'))).toEqual(['Create Disallowed Namespace']);
    expect(fired(builtin, deleteDeployment)).toEqual(['Disallowed K8s User', 'K8s Deployment Deleted']);
    expect(fired(quiet, deleteDeployment)).toEqual([]);
  });

  it('keeps every built-in fixture passing (falconer rules test over a folder holding it)', () => {
    const ids = quiet.ruleSet?.rules.map((r) => r.def.id) ?? [];
    const results = quiet.ruleSet ? runFixtures(quiet.ruleSet, readFixtures([BUILTIN_RULES_DIR]), ids) : [];
    expect(results.length).toBeGreaterThan(100);
    expect(results.filter((r) => !r.ok).map((r) => `${r.rule} ${r.kind}: ${r.name} ${r.problem ?? ''}`)).toEqual([]);
  });

  it('leaves the Falco-gated secret rules alone', () => {
    const getSecret = fixtureToEvent(
      { verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'db' } },
      3,
      'k8s_audit',
    );
    expect(fired(quiet, getSecret)).toEqual(['K8s Secret Get Successfully']);
  });
});
