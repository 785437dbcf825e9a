import {
  compareWithNamespace,
  denialMessage,
  evaluatePodSecurity,
  extractPod,
  highestLevel,
  InvalidPolicyError,
  namespaceLevels,
  NotAPodError,
  parseVersion,
  tryExtractPod,
} from '../../../src/enrich/pod-security';

const rootPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { containers: [{ name: 'x', image: 'nginx' }] },
};

const privilegedSpec = {
  containers: [{ name: 'x', image: 'nginx', securityContext: { privileged: true } }],
};

const restrictedSpec = {
  securityContext: {
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  containers: [
    {
      name: 'x',
      image: 'nginx',
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    },
  ],
};

describe('policy versions', () => {
  it.each([
    ['latest', 'latest'],
    ['v1.0', { minor: 0 }],
    ['v1.37', { minor: 37 }],
    ['v1.40', { minor: 40 }],
  ])('parses %s', (text, parsed) => {
    expect(parseVersion(text)).toEqual(parsed);
  });

  it.each(['1.25', 'v2.0', 'v1.01', 'v1.x', 'Latest', ''])('rejects %j', (text) => {
    expect(() => parseVersion(text)).toThrow(InvalidPolicyError);
  });

  it('evaluates versions newer than the newest known one as the newest one, keeping the requested name', () => {
    const pod = {
      kind: 'Pod',
      spec: {
        securityContext: { sysctls: [{ name: 'net.ipv4.tcp_notsent_lowat' }] },
        containers: [],
      },
    };
    expect(evaluatePodSecurity(pod, 'baseline', 'v1.36').allowed).toBe(false);
    const future = evaluatePodSecurity(pod, 'baseline', 'v1.99');
    expect(future).toMatchObject({ allowed: true, version: 'v1.99' });
  });

  it('rejects an unknown level', () => {
    expect(() => evaluatePodSecurity(rootPod, 'strict')).toThrow(InvalidPolicyError);
  });
});

describe('denial message', () => {
  it('is worded like the admission controller', () => {
    const result = evaluatePodSecurity(rootPod, 'restricted', 'latest');
    expect(denialMessage(result)).toBe(
      'violates PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
  });

  it('is empty when allowed, and privileged allows everything', () => {
    const result = evaluatePodSecurity({ kind: 'Pod', spec: privilegedSpec }, 'privileged', 'v1.0');
    expect(result).toEqual({
      level: 'privileged',
      version: 'v1.0',
      allowed: true,
      violations: [],
    });
    expect(denialMessage(result)).toBe('');
  });
});

describe('highestLevel', () => {
  it.each([
    ['a privileged container', privilegedSpec, 'privileged', 'baseline', ['privileged']],
    [
      'a default pod',
      rootPod.spec,
      'baseline',
      'restricted',
      ['allowPrivilegeEscalation', 'capabilities_restricted', 'runAsNonRoot', 'seccompProfile_restricted'],
    ],
    ['a hardened pod', restrictedSpec, 'restricted', undefined, []],
  ])('%s meets %s', (_name, spec, level, nextLevel, checks) => {
    const result = highestLevel({ kind: 'Pod', spec }, 'latest');
    expect(result.level).toBe(level);
    expect(result.nextLevel).toBe(nextLevel);
    expect(result.violations.map((v) => v.check)).toEqual(checks);
  });

  it('depends on the version', () => {
    const pod = {
      kind: 'Pod',
      spec: {
        securityContext: { runAsNonRoot: true },
        containers: [{ name: 'x' }],
      },
    };
    expect(highestLevel(pod, 'v1.7').level).toBe('restricted');
    expect(highestLevel(pod, 'v1.8').level).toBe('baseline');
  });
});

describe('pod template extraction', () => {
  const template = {
    metadata: {
      annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' },
    },
    spec: privilegedSpec,
  };
  const meta = {
    name: 'w',
    namespace: 'ns',
    annotations: {
      'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default',
    },
  };

  it.each([
    ['Deployment', { spec: { template } }],
    ['ReplicaSet', { spec: { template } }],
    ['StatefulSet', { spec: { template } }],
    ['DaemonSet', { spec: { template } }],
    ['Job', { spec: { template } }],
    ['ReplicationController', { spec: { template } }],
    ['CronJob', { spec: { jobTemplate: { spec: { template } } } }],
    ['PodTemplate', { template }],
  ])("reads a %s's pod template and the template's own metadata", (kind, body) => {
    const extracted = extractPod({ kind, metadata: meta, ...body });
    expect(extracted).toMatchObject({
      kind,
      name: 'w',
      namespace: 'ns',
      spec: privilegedSpec,
    });
    expect(extracted.metadata).toBe(template.metadata);
    // The template's annotation, not the workload's, decides the pre-1.19 seccomp check.
    expect(evaluatePodSecurity({ kind, metadata: meta, ...body }, 'baseline', 'v1.18').violations.map((v) => v.check)).toEqual([
      'privileged',
      'seccompProfile_baseline',
    ]);
  });

  it('reads a Pod and a bare pod spec', () => {
    expect(extractPod(rootPod)).toMatchObject({
      kind: 'Pod',
      name: 'web',
      namespace: 'shop',
      metadata: rootPod.metadata,
    });
    expect(extractPod(privilegedSpec)).toMatchObject({
      kind: 'PodSpec',
      spec: privilegedSpec,
    });
  });

  it('finds nothing to evaluate in other kinds', () => {
    expect(
      tryExtractPod({
        kind: 'Service',
        metadata: { name: 's' },
        spec: { ports: [] },
      }),
    ).toBeUndefined();
    expect(tryExtractPod({ kind: 'Deployment', metadata: { name: 'd' }, spec: {} })).toBeUndefined();
    expect(tryExtractPod('text')).toBeUndefined();
    expect(() => evaluatePodSecurity({ kind: 'ConfigMap' }, 'baseline')).toThrow(NotAPodError);
  });
});

describe('namespace labels', () => {
  it('defaults every mode to privileged:latest', () => {
    expect(namespaceLevels({})).toEqual({
      enforce: { level: 'privileged', version: 'latest' },
      audit: { level: 'privileged', version: 'latest' },
      warn: { level: 'privileged', version: 'latest' },
      errors: [],
    });
  });

  it('reads levels and versions', () => {
    const policy = namespaceLevels({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/enforce-version': 'v1.29',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    expect(policy.enforce).toEqual({
      level: 'baseline',
      version: { minor: 29 },
    });
    expect(policy.warn).toEqual({ level: 'restricted', version: 'latest' });
    expect(policy.audit).toEqual({ level: 'privileged', version: 'latest' });
  });

  it('fails closed for an invalid enforce level and open for audit and warn', () => {
    const policy = namespaceLevels({
      'pod-security.kubernetes.io/enforce': 'strict',
      'pod-security.kubernetes.io/audit': 'strict',
      'pod-security.kubernetes.io/warn-version': '1.25',
    });
    expect(policy.enforce.level).toBe('restricted');
    expect(policy.audit.level).toBe('privileged');
    expect(policy.warn.version).toBe('latest');
    expect(policy.errors).toHaveLength(3);
  });

  it('tells whether a pod meets its namespace enforce level', () => {
    const labels = {
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'restricted',
    };
    const ok = compareWithNamespace(rootPod, labels);
    expect(ok.meetsEnforce).toBe(true);
    expect(ok.verdicts.warn.allowed).toBe(false);
    const bad = compareWithNamespace({ kind: 'Pod', spec: privilegedSpec }, labels);
    expect(bad.meetsEnforce).toBe(false);
    expect(bad.verdicts.enforce.violations.map((v) => v.check)).toEqual(['privileged']);
    expect(bad.verdicts.audit.allowed).toBe(true);
  });
});
