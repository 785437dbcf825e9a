/**
 * Pods in their own user namespace (`hostUsers: false`), as kubernetes/pod-security-admission evaluates
 * them: policy/check_runAsNonRoot.go (runAsNonRoot1_0, runAsNonRoot1_35), policy/check_runAsUser.go
 * (runAsUser1_23, runAsUser1_35) and policy/helpers.go relaxPolicyForUserNamespacePod. From v1.35 the
 * restricted runAsNonRoot and runAsUser checks allow such pods unconditionally; before v1.35 they do not
 * (the feature gate that relaxed the old versions was removed upstream).
 */
import { evaluatePodSecurity, highestLevel } from '../../../src/enrich/pod-security';

type Obj = Record<string, unknown>;

const hardened = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

/** Meets restricted except for who it runs as; `hostUsers` and the pod securityContext vary. */
function pod(hostUsers: boolean | undefined, securityContext: Obj, containerContext: Obj = {}): Obj {
  return {
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      ...(hostUsers === undefined ? {} : { hostUsers }),
      securityContext: { seccompProfile: { type: 'RuntimeDefault' }, ...securityContext },
      containers: [{ name: 'a', image: 'x', securityContext: { ...hardened, ...containerContext } }],
    },
  };
}

type Row = [desc: string, version: string, pod: Obj, failingChecks: string[]];

const rows: Row[] = [
  // runAsNonRoot1_35: "host users false allowed" (check_runAsNonRoot_test.go).
  ['runAsNonRoot unset, hostUsers: false, v1.35', 'v1.35', pod(false, {}), []],
  ['runAsNonRoot unset, hostUsers: false, latest', 'latest', pod(false, {}), []],
  ['runAsNonRoot unset, hostUsers: false, v1.37', 'v1.37', pod(false, {}), []],
  [
    'runAsNonRoot: false on pod and container, hostUsers: false, v1.35',
    'v1.35',
    pod(false, { runAsNonRoot: false }, { runAsNonRoot: false }),
    [],
  ],
  // runAsUser1_35: UID 0 inside the user namespace is not root on the node.
  ['runAsUser: 0 on pod and container, hostUsers: false, v1.35', 'v1.35', pod(false, { runAsUser: 0 }, { runAsUser: 0 }), []],
  // Before v1.35 the 1.0 and 1.23 implementations run, with no relaxation.
  ['runAsNonRoot unset, hostUsers: false, v1.34', 'v1.34', pod(false, {}), ['runAsNonRoot']],
  ['runAsNonRoot unset, hostUsers: false, v1.0', 'v1.0', pod(false, {}), ['runAsNonRoot']],
  ['runAsUser: 0, hostUsers: false, v1.34', 'v1.34', pod(false, { runAsNonRoot: true, runAsUser: 0 }), ['runAsUser']],
  // relaxPolicyForUserNamespacePod is true only for an explicit false.
  ['runAsNonRoot unset, hostUsers: true, latest', 'latest', pod(true, {}), ['runAsNonRoot']],
  ['runAsNonRoot unset, hostUsers unset, latest', 'latest', pod(undefined, {}), ['runAsNonRoot']],
  ['runAsUser: 0, hostUsers: true, latest', 'latest', pod(true, { runAsNonRoot: true, runAsUser: 0 }), ['runAsUser']],
  // Only those two checks relax: the rest of restricted still applies in a user namespace.
  [
    'hostUsers: false does not excuse allowPrivilegeEscalation, latest',
    'latest',
    pod(false, { runAsUser: 0 }, { allowPrivilegeEscalation: true }),
    ['allowPrivilegeEscalation'],
  ],
];

describe('restricted runAsNonRoot/runAsUser for pods with hostUsers: false', () => {
  it.each(rows)('%s', (_desc, version, podObject, failing) => {
    const result = evaluatePodSecurity(podObject, 'restricted', version);
    expect(result.violations.map((v) => v.check)).toEqual(failing);
    expect(result.allowed).toBe(failing.length === 0);
  });

  it('reports a root user-namespace pod as restricted at latest, and as baseline at v1.34', () => {
    const rootInUserNs = pod(false, { runAsUser: 0 });
    expect(highestLevel(rootInUserNs, 'latest')).toMatchObject({ level: 'restricted', violations: [] });
    expect(highestLevel(rootInUserNs, 'v1.34')).toMatchObject({ level: 'baseline', nextLevel: 'restricted' });
  });
});
