import { evaluatePodSecurity, type Violation } from '../../../src/enrich/pod-security';

type Obj = Record<string, unknown>;

/** A pod that meets restricted at every version, with `spec` and `annotations` merged in. */
function pod(spec: Obj = {}, annotations?: Record<string, string>): Obj {
  const hardened = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', ...(annotations ? { annotations } : {}) },
    spec: {
      securityContext: {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [{ name: 'app', image: 'x', securityContext: hardened }],
      ...spec,
    },
  };
}

/** A container that meets restricted, with `securityContext` fields overridden. */
function container(name: string, securityContext: Obj = {}, extra: Obj = {}): Obj {
  return {
    name,
    image: 'x',
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      ...securityContext,
    },
    ...extra,
  };
}

type Case = [name: string, level: string, version: string, pod: Obj, expected: Violation[]];

const v = (check: string, reason: string, detail = ''): Violation => ({
  check,
  reason,
  detail,
});

const cases: Case[] = [
  ['the hardened pod meets restricted:latest', 'restricted', 'latest', pod(), []],
  ['the hardened pod meets restricted:v1.0', 'restricted', 'v1.0', pod(), []],

  // allowPrivilegeEscalation
  [
    'allowPrivilegeEscalation is not required before v1.8',
    'restricted',
    'v1.7',
    pod({ containers: [container('a', { allowPrivilegeEscalation: true })] }),
    [],
  ],
  [
    'allowPrivilegeEscalation unset or true is reported from v1.8',
    'restricted',
    'v1.8',
    pod({
      containers: [container('a', { allowPrivilegeEscalation: true }), { name: 'b', image: 'x' }],
    }),
    [
      v(
        'allowPrivilegeEscalation',
        'allowPrivilegeEscalation != false',
        'containers "a", "b" must set securityContext.allowPrivilegeEscalation=false',
      ),
    ],
  ],
  [
    'Windows pods still need allowPrivilegeEscalation=false at v1.24',
    'restricted',
    'v1.24',
    pod({
      os: { name: 'windows' },
      containers: [container('a', { allowPrivilegeEscalation: undefined })],
    }),
    [
      v(
        'allowPrivilegeEscalation',
        'allowPrivilegeEscalation != false',
        'container "a" must set securityContext.allowPrivilegeEscalation=false',
      ),
    ],
  ],
  [
    'Windows pods are exempt from the Linux-only restricted fields from v1.25',
    'restricted',
    'v1.25',
    pod({
      os: { name: 'windows' },
      securityContext: { runAsNonRoot: true },
      containers: [{ name: 'a', image: 'x' }],
    }),
    [],
  ],

  // capabilities
  [
    'baseline forbids adding a non-default capability',
    'baseline',
    'latest',
    pod({
      containers: [
        container('a', {
          capabilities: { add: ['NET_RAW', 'SYS_ADMIN', 'CHOWN'] },
        }),
      ],
    }),
    [
      v(
        'capabilities_baseline',
        'non-default capabilities',
        'container "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add',
      ),
    ],
  ],
  [
    'restricted before v1.22 reports the baseline capabilities check',
    'restricted',
    'v1.21',
    pod({
      containers: [container('a', { capabilities: { add: ['NET_RAW'] } })],
    }),
    [
      v(
        'capabilities_baseline',
        'non-default capabilities',
        'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
      ),
    ],
  ],
  [
    'from v1.22 the restricted capabilities check replaces the baseline one',
    'restricted',
    'v1.22',
    pod({
      containers: [
        {
          name: 'a',
          image: 'x',
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { add: ['FOO', 'BAR'] },
          },
        },
        {
          name: 'b',
          image: 'x',
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { add: ['BAR', 'BAZ'] },
          },
        },
        container('c', {
          capabilities: {
            add: ['NET_BIND_SERVICE', 'CHOWN'],
            drop: ['ALL', 'FOO'],
          },
        }),
      ],
    }),
    [
      v(
        'capabilities_restricted',
        'unrestricted capabilities',
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in securityContext.capabilities.add',
      ),
    ],
  ],
  [
    'NET_BIND_SERVICE may be added under restricted',
    'restricted',
    'latest',
    pod({
      containers: [
        container('a', {
          capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
        }),
      ],
    }),
    [],
  ],

  // host namespaces, paths, ports, probes
  [
    'host namespaces are listed in network, PID, IPC order',
    'baseline',
    'v1.0',
    pod({ hostIPC: true, hostPID: true, hostNetwork: true }),
    [v('hostNamespaces', 'host namespaces', 'hostNetwork=true, hostPID=true, hostIPC=true')],
  ],
  [
    'hostPath volumes are named in baseline',
    'baseline',
    'latest',
    pod({
      volumes: [
        { name: 'root', hostPath: { path: '/' } },
        { name: 'tmp', emptyDir: {} },
        { name: 'sys', hostPath: { path: '/sys' } },
      ],
    }),
    [v('hostPathVolumes', 'hostPath volumes', 'volumes "root", "sys"')],
  ],
  [
    'restricted reports hostPath once, through the restricted volume types check',
    'restricted',
    'latest',
    pod({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }),
    [v('restrictedVolumes', 'restricted volume types', 'volume "root" uses restricted volume type "hostPath"')],
  ],
  [
    'host ports name the containers and the distinct ports',
    'baseline',
    'latest',
    pod({
      initContainers: [container('init', {}, { ports: [{ containerPort: 80, hostPort: 8080 }] })],
      containers: [
        container(
          'a',
          {},
          {
            ports: [
              { containerPort: 80, hostPort: 80 },
              { containerPort: 81, hostPort: 0 },
            ],
          },
        ),
      ],
    }),
    [v('hostPorts', 'hostPort', 'containers "init", "a" use hostPorts 80, 8080')],
  ],
  [
    'probe and lifecycle hosts are allowed before v1.34',
    'baseline',
    'v1.33',
    pod({
      containers: [container('a', {}, { livenessProbe: { httpGet: { host: '10.0.0.1', port: 80 } } })],
    }),
    [],
  ],
  [
    'probe and lifecycle hosts are forbidden from v1.34, containers and hosts sorted',
    'baseline',
    'v1.34',
    pod({
      containers: [
        container('b', {}, { readinessProbe: { tcpSocket: { host: 'example.com', port: 1 } } }),
        container(
          'a',
          {},
          {
            lifecycle: { preStop: { httpGet: { host: '10.0.0.1', port: 80 } } },
          },
        ),
      ],
    }),
    [
      v(
        'hostProbesAndHostLifecycle',
        'probe or lifecycle host',
        'containers "a", "b" use probe or lifecycle hosts "10.0.0.1", "example.com"',
      ),
    ],
  ],

  // privileged, procMount
  [
    'privileged containers, ephemeral ones included',
    'baseline',
    'latest',
    pod({
      containers: [container('a', { privileged: true })],
      ephemeralContainers: [container('debug', { privileged: true })],
    }),
    [v('privileged', 'privileged', 'containers "a", "debug" must not set securityContext.privileged=true')],
  ],
  [
    'an unmasked /proc is forbidden in baseline before v1.35 even with hostUsers: false',
    'baseline',
    'v1.34',
    pod({
      hostUsers: false,
      containers: [container('a', { procMount: 'Unmasked' })],
    }),
    [v('procMount', 'procMount', 'container "a" must not set securityContext.procMount to "Unmasked"')],
  ],
  [
    'baseline allows an unmasked /proc in a user namespace from v1.35',
    'baseline',
    'v1.35',
    pod({
      hostUsers: false,
      containers: [container('a', { procMount: 'Unmasked' })],
    }),
    [],
  ],
  [
    'restricted keeps forbidding an unmasked /proc from v1.35, through procMount_restricted',
    'restricted',
    'v1.35',
    pod({
      hostUsers: false,
      containers: [container('a', { procMount: 'Unmasked' })],
    }),
    [v('procMount_restricted', 'procMount', 'container "a" must not set securityContext.procMount to "Unmasked"')],
  ],

  // volumes
  [
    'allowed volume sources, including image and a source-less volume (defaulted to emptyDir)',
    'restricted',
    'latest',
    pod({
      volumes: [
        { name: 'a' },
        { name: 'b', image: { reference: 'r' } },
        { name: 'c', csi: { driver: 'd' } },
        { name: 'd', ephemeral: {} },
      ],
    }),
    [],
  ],
  [
    'restricted volume types keep volume order and sort the types',
    'restricted',
    'v1.0',
    pod({
      volumes: [
        { name: 'z', nfs: { server: 's', path: '/' } },
        { name: 'y', gitRepo: { repository: 'r' } },
        { name: 'x', somethingNew: {} },
      ],
    }),
    [
      v(
        'restrictedVolumes',
        'restricted volume types',
        'volumes "z", "y", "x" use restricted volume types "gitRepo", "nfs", "unknown"',
      ),
    ],
  ],

  // runAsNonRoot, runAsUser
  [
    'runAsNonRoot=false set explicitly by the pod and a container',
    'restricted',
    'latest',
    pod({
      securityContext: {
        runAsNonRoot: false,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container('a', { runAsNonRoot: false })],
    }),
    [v('runAsNonRoot', 'runAsNonRoot != true', 'pod and container "a" must not set securityContext.runAsNonRoot=false')],
  ],
  [
    'runAsNonRoot left unset everywhere',
    'restricted',
    'latest',
    pod({
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [container('a'), container('b', { runAsNonRoot: true })],
    }),
    [v('runAsNonRoot', 'runAsNonRoot != true', 'pod or container "a" must set securityContext.runAsNonRoot=true')],
  ],
  ['runAsUser=0 is not checked before v1.23', 'restricted', 'v1.22', pod({ containers: [container('a', { runAsUser: 0 })] }), []],
  [
    'runAsUser=0 from v1.23',
    'restricted',
    'v1.23',
    pod({
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 0,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container('a', { runAsUser: 0 }), container('b', { runAsUser: 1000 })],
    }),
    [v('runAsUser', 'runAsUser=0', 'pod and container "a" must not set runAsUser=0')],
  ],

  // SELinux
  [
    'container_engine_t is forbidden before v1.31',
    'baseline',
    'v1.30',
    pod({
      containers: [container('a', { seLinuxOptions: { type: 'container_engine_t' } })],
    }),
    [
      v(
        'seLinuxOptions',
        'seLinuxOptions',
        'container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t"',
      ),
    ],
  ],
  [
    'container_engine_t is allowed from v1.31',
    'baseline',
    'v1.31',
    pod({
      containers: [container('a', { seLinuxOptions: { type: 'container_engine_t' } })],
    }),
    [],
  ],
  [
    'SELinux types, user and role are reported together',
    'baseline',
    'latest',
    pod({
      securityContext: {
        seLinuxOptions: { type: 'foo', user: 'bar', role: 'baz' },
      },
      containers: [
        container('a', { seLinuxOptions: { type: 'container_t' } }),
        container('e', { seLinuxOptions: { type: 'bar' } }),
        container('f', { seLinuxOptions: { user: 'bar' } }),
      ],
    }),
    [
      v(
        'seLinuxOptions',
        'seLinuxOptions',
        'pod and containers "e", "f" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set',
      ),
    ],
  ],

  // seccomp
  [
    'before v1.19 seccomp comes from the alpha annotations',
    'baseline',
    'v1.18',
    pod(
      {},
      {
        'seccomp.security.alpha.kubernetes.io/pod': 'unconfined',
        'container.seccomp.security.alpha.kubernetes.io/app': 'docker/default',
      },
    ),
    [
      v(
        'seccompProfile_baseline',
        'seccompProfile',
        'forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined"',
      ),
    ],
  ],
  [
    'from v1.19 the annotations are ignored and the fields count',
    'baseline',
    'v1.19',
    pod(
      {
        securityContext: { seccompProfile: { type: 'Unconfined' } },
        containers: [
          container('a', {
            seccompProfile: { type: 'Localhost', localhostProfile: 'p' },
          }),
        ],
      },
      { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' },
    ),
    [v('seccompProfile_baseline', 'seccompProfile', 'pod must not set securityContext.seccompProfile.type to "Unconfined"')],
  ],
  [
    'restricted requires a seccomp profile for every container from v1.19',
    'restricted',
    'v1.19',
    pod({
      securityContext: { runAsNonRoot: true },
      containers: [container('a'), container('b', { seccompProfile: { type: 'RuntimeDefault' } })],
    }),
    [
      v(
        'seccompProfile_restricted',
        'seccompProfile',
        'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
      ),
    ],
  ],
  [
    'restricted does not require seccomp before v1.19',
    'restricted',
    'v1.18',
    pod({ securityContext: { runAsNonRoot: true } }),
    [],
  ],

  // sysctls
  [
    'tcp_rmem is unsafe before v1.32',
    'baseline',
    'v1.31',
    pod({
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem', value: '1' }] },
    }),
    [v('sysctls', 'forbidden sysctls', 'net.ipv4.tcp_rmem')],
  ],
  [
    'tcp_rmem is safe from v1.32',
    'baseline',
    'v1.32',
    pod({
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_rmem', value: '1' }] },
    }),
    [],
  ],
  [
    'ip_local_reserved_ports is safe from v1.27',
    'baseline',
    'v1.27',
    pod({
      securityContext: {
        sysctls: [{ name: 'net.ipv4.ip_local_reserved_ports', value: '1' }],
      },
    }),
    [],
  ],
  [
    'tcp_keepalive_time is unsafe before v1.29',
    'baseline',
    'v1.28',
    pod({
      securityContext: {
        sysctls: [{ name: 'net.ipv4.tcp_keepalive_time', value: '1' }],
      },
    }),
    [v('sysctls', 'forbidden sysctls', 'net.ipv4.tcp_keepalive_time')],
  ],
  [
    'tcp_notsent_lowat is unsafe before v1.37, listed in spec order',
    'baseline',
    'v1.36',
    pod({
      securityContext: {
        sysctls: [{ name: 'net.ipv4.tcp_notsent_lowat' }, { name: 'kernel.shm_rmid_forced' }, { name: 'a.other' }],
      },
    }),
    [v('sysctls', 'forbidden sysctls', 'net.ipv4.tcp_notsent_lowat, a.other')],
  ],
  [
    'tcp_notsent_lowat is safe from v1.37',
    'baseline',
    'v1.37',
    pod({
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_notsent_lowat' }] },
    }),
    [],
  ],

  // Windows HostProcess, AppArmor
  [
    'HostProcess on the pod and a container',
    'baseline',
    'latest',
    pod({
      securityContext: { windowsOptions: { hostProcess: true } },
      containers: [container('a', { windowsOptions: { hostProcess: true } })],
    }),
    [
      v(
        'windowsHostProcess',
        'hostProcess',
        'pod and container "a" must not set securityContext.windowsOptions.hostProcess=true',
      ),
    ],
  ],
  [
    'AppArmor: Unconfined fields and forbidden annotations in one message',
    'baseline',
    'v1.0',
    pod(
      {
        securityContext: { appArmorProfile: { type: 'Unconfined' } },
        containers: [
          container('a', {
            appArmorProfile: { type: 'Localhost', localhostProfile: 'x' },
          }),
        ],
      },
      {
        'container.apparmor.security.beta.kubernetes.io/b': 'unconfined',
        'container.apparmor.security.beta.kubernetes.io/a': 'localhost/ok',
      },
    ),
    [
      v(
        'appArmorProfile',
        'forbidden AppArmor profiles',
        // Upstream quotes the list items without escaping the quotes inside them.
        'pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/b="unconfined""',
      ),
    ],
  ],
  [
    'AppArmor: runtime/default and empty annotation values are allowed',
    'baseline',
    'latest',
    pod(
      {},
      {
        'container.apparmor.security.beta.kubernetes.io/a': 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/b': '',
      },
    ),
    [],
  ],
];

describe('Pod Security Standards checks', () => {
  it.each(cases)('%s (%s:%s)', (_name, level, version, podObject, expected) => {
    const result = evaluatePodSecurity(podObject, level, version);
    expect(result.violations).toEqual(expected);
    expect(result.allowed).toBe(expected.length === 0);
  });

  it('reports baseline violations before restricted ones, each check once', () => {
    const result = evaluatePodSecurity(
      {
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { hostNetwork: true, containers: [{ name: 'a', image: 'x' }] },
      },
      'restricted',
      'latest',
    );
    expect(result.violations.map((x) => x.check)).toEqual([
      'hostNamespaces',
      'allowPrivilegeEscalation',
      'capabilities_restricted',
      'runAsNonRoot',
      'seccompProfile_restricted',
    ]);
  });

  it('visits init containers, then containers, then ephemeral containers', () => {
    const result = evaluatePodSecurity(
      pod({
        ephemeralContainers: [container('e', { privileged: true })],
        containers: [container('c', { privileged: true })],
        initContainers: [container('i', { privileged: true })],
      }),
      'baseline',
    );
    expect(result.violations[0]?.detail).toBe('containers "i", "c", "e" must not set securityContext.privileged=true');
  });
});
