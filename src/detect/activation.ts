import type { Json, JsonObject, SecurityEvent } from '../core/event';

/**
 * What a rule condition sees. Every helper is always present with a neutral default ("" / 0 / false /
 * [] / {}), so a comparison on a missing field is simply false instead of an evaluation error. The raw
 * audit event stays reachable as `ka` for anything the helpers do not cover (use `has()` or `.?` there).
 *
 * Helpers are computed lazily and memoised: a rule pack that never looks at containers never pays for
 * walking the pod spec.
 */
export type VariableType = 'string' | 'int' | 'bool' | 'map' | 'list<string>' | 'list<map>';

export interface VariableDecl {
  type: VariableType;
  doc: string;
}

export const AUDIT_VARIABLES: Readonly<Record<string, VariableDecl>> = {
  ka: { type: 'map', doc: 'the whole audit event (audit.k8s.io/v1 Event) as received' },
  stage: { type: 'string', doc: 'RequestReceived | ResponseStarted | ResponseComplete | Panic' },
  verb: { type: 'string', doc: 'get, list, watch, create, update, patch, delete, deletecollection, ...' },
  uri: { type: 'string', doc: 'requestURI' },
  resource: { type: 'string', doc: 'objectRef.resource, e.g. pods' },
  subresource: { type: 'string', doc: 'objectRef.subresource, e.g. exec' },
  ns: { type: 'string', doc: 'objectRef.namespace (`namespace` is a reserved word in CEL)' },
  name: { type: 'string', doc: 'objectRef.name (falls back to requestObject.metadata.name on create)' },
  apiGroup: { type: 'string', doc: 'objectRef.apiGroup ("" for the core group)' },
  user: { type: 'string', doc: 'user.username' },
  groups: { type: 'list<string>', doc: 'user.groups' },
  userExtra: { type: 'map', doc: 'user.extra (values are lists of strings)' },
  impersonatedUser: { type: 'string', doc: 'impersonatedUser.username' },
  tokenPod: { type: 'string', doc: 'the pod a service-account token was bound to (user.extra)' },
  sourceIp: { type: 'string', doc: 'the LAST entry of sourceIPs: the only one the apiserver vouches for' },
  userAgent: { type: 'string', doc: 'client-set and untrusted' },
  responseCode: { type: 'int', doc: 'responseStatus.code, 0 when absent' },
  decision: { type: 'string', doc: 'annotation authorization.k8s.io/decision (allow | forbid)' },
  reason: { type: 'string', doc: 'annotation authorization.k8s.io/reason' },
  annotations: { type: 'map', doc: 'audit annotations (string values)' },
  requestObject: { type: 'map', doc: 'requestObject, {} when absent' },
  responseObject: { type: 'map', doc: 'responseObject, {} when absent' },
  labels: { type: 'map', doc: 'requestObject.metadata.labels' },
  objectAnnotations: { type: 'map', doc: 'requestObject.metadata.annotations' },
  podSpec: { type: 'map', doc: 'the pod spec of a Pod, or of a workload template (Deployment, Job, CronJob...)' },
  containers: {
    type: 'list<map>',
    doc: 'containers, initContainers and ephemeralContainers of podSpec (or of an ephemeralcontainers update); each {kind, name, image, repository, privileged, allowPrivilegeEscalation, runAsUser, capabilities}',
  },
  images: { type: 'list<string>', doc: 'every container image' },
  repositories: { type: 'list<string>', doc: 'every container image without tag or digest' },
  hostPaths: { type: 'list<string>', doc: 'hostPath volume paths of podSpec' },
  hostNetwork: { type: 'bool', doc: 'podSpec.hostNetwork' },
  hostPID: { type: 'bool', doc: 'podSpec.hostPID' },
  hostIPC: { type: 'bool', doc: 'podSpec.hostIPC' },
  serviceAccountName: { type: 'string', doc: 'podSpec.serviceAccountName' },
  exec: { type: 'map', doc: 'exec/attach/portforward query: {command: list, commandLine, container, tty, ports}' },
  roleRef: { type: 'map', doc: 'a binding\'s roleRef {kind, name, apiGroup} (strings, "" when absent)' },
  subjects: { type: 'list<map>', doc: "a binding's subjects, each {kind, name, namespace}" },
  roleRules: {
    type: 'list<map>',
    doc: "a Role/ClusterRole's rules, each {verbs, resources, apiGroups, resourceNames, nonResourceURLs} (lists)",
  },
  ruleVerbs: { type: 'list<string>', doc: 'every verb of roleRules' },
  ruleResources: { type: 'list<string>', doc: 'every resource of roleRules' },
};

export const FALCO_VARIABLES: Readonly<Record<string, VariableDecl>> = {
  rule: { type: 'string', doc: 'the Falco rule name' },
  priority: { type: 'string', doc: 'Falco priority, lower case (debug ... emergency)' },
  output: { type: 'string', doc: 'Falco output text' },
  falcoSource: { type: 'string', doc: 'Falco event source: syscall, k8s_audit, ...' },
  hostname: { type: 'string', doc: 'the Falco host' },
  tags: { type: 'list<string>', doc: 'Falco rule tags' },
  fields: { type: 'map', doc: 'output_fields as sent' },
  ns: { type: 'string', doc: 'k8s.ns.name' },
  pod: { type: 'string', doc: 'k8s.pod.name' },
  container: { type: 'string', doc: 'container name' },
  image: { type: 'string', doc: 'container image' },
  cmdline: { type: 'string', doc: 'proc.cmdline' },
  procName: { type: 'string', doc: 'proc.name' },
  procUser: { type: 'string', doc: 'user.name' },
};

const POD_TEMPLATE_RESOURCES = new Set([
  'deployments',
  'daemonsets',
  'statefulsets',
  'replicasets',
  'replicationcontrollers',
  'jobs',
  'podtemplates',
]);

function obj(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : '';
}

function strs(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function arr(v: Json | undefined): JsonObject[] {
  return Array.isArray(v) ? v.map(obj).filter((x): x is JsonObject => x !== undefined) : [];
}

function stringMap(v: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const o = obj(v);
  if (o) for (const k of Object.keys(o)) if (typeof o[k] === 'string') out[k] = o[k] as string;
  return out;
}

/** `registry.k8s.io/kube-proxy:v1.30@sha256:...` → `registry.k8s.io/kube-proxy` (a port in the host is kept). */
export function imageRepository(image: string): string {
  let s = image;
  const at = s.indexOf('@');
  if (at !== -1) s = s.slice(0, at);
  const slash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  return colon > slash ? s.slice(0, colon) : s;
}

/** The pod spec inside a create/update request: a Pod, a workload template, or a CronJob's job template. */
export function podSpecOf(resource: string, requestObject: JsonObject): JsonObject | undefined {
  const spec = obj(requestObject.spec);
  if (!spec) return undefined;
  if (resource === 'pods') return spec;
  if (POD_TEMPLATE_RESOURCES.has(resource)) return obj(obj(spec.template)?.spec);
  if (resource === 'cronjobs') return obj(obj(obj(obj(spec.jobTemplate)?.spec)?.template)?.spec);
  return undefined;
}

interface ContainerView {
  kind: string;
  name: string;
  image: string;
  repository: string;
  privileged: boolean;
  allowPrivilegeEscalation: boolean;
  runAsUser: bigint;
  capabilities: string[];
}

function containerViews(spec: JsonObject): ContainerView[] {
  const out: ContainerView[] = [];
  const kinds: [string, string][] = [
    ['containers', 'container'],
    ['initContainers', 'initContainer'],
    ['ephemeralContainers', 'ephemeralContainer'],
  ];
  for (const [key, kind] of kinds) {
    for (const c of arr(spec[key])) {
      const sc = obj(c.securityContext);
      const image = str(c.image);
      const runAsUser = sc?.runAsUser;
      out.push({
        kind,
        name: str(c.name),
        image,
        repository: imageRepository(image),
        privileged: sc?.privileged === true,
        allowPrivilegeEscalation: sc?.allowPrivilegeEscalation === true,
        runAsUser: typeof runAsUser === 'number' && Number.isInteger(runAsUser) ? BigInt(runAsUser) : -1n,
        capabilities: strs(obj(sc?.capabilities)?.add),
      });
    }
  }
  return out;
}

function queryOf(uri: string): URLSearchParams {
  const q = uri.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : uri.slice(q + 1));
}

/** The audit activation. Construct one per event; rules share it. */
export class AuditActivation {
  readonly ka: JsonObject;
  readonly stage: string;
  readonly verb: string;
  readonly uri: string;
  readonly resource: string;
  readonly subresource: string;
  readonly ns: string;
  readonly apiGroup: string;
  readonly user: string;
  /** Made on the first helper that needs it: most events are done with the eager fields. */
  private memo?: Map<string, unknown>;
  /** `response_successful` reads it in most rules, twice: its own field rather than the memo's map. */
  private code?: bigint;

  constructor(raw: JsonObject) {
    this.ka = raw;
    const ref = obj(raw.objectRef);
    this.stage = str(raw.stage);
    this.verb = str(raw.verb);
    this.uri = str(raw.requestURI);
    this.resource = str(ref?.resource);
    this.subresource = str(ref?.subresource);
    this.ns = str(ref?.namespace);
    this.apiGroup = str(ref?.apiGroup);
    this.user = str(obj(raw.user)?.username);
  }

  private once<T>(key: string, make: () => T): T {
    const memo = (this.memo ??= new Map());
    // No helper makes `undefined`: one lookup answers a hit.
    const hit = memo.get(key);
    if (hit !== undefined) return hit as T;
    const v = make();
    memo.set(key, v);
    return v;
  }

  get name(): string {
    return this.once('name', () => {
      const n = str(obj(this.ka.objectRef)?.name);
      if (n) return n;
      const meta = obj(this.requestObject.metadata) ?? obj(this.responseObject.metadata);
      return str(meta?.name);
    });
  }
  get groups(): string[] {
    return this.once('groups', () => strs(obj(this.ka.user)?.groups));
  }
  get userExtra(): JsonObject {
    return this.once('userExtra', () => obj(obj(this.ka.user)?.extra) ?? {});
  }
  get impersonatedUser(): string {
    // Not memoised: two property reads, asked of every event (a `*` rule), cheaper than the memo's map.
    return str(obj(this.ka.impersonatedUser)?.username);
  }
  get tokenPod(): string {
    return this.once('tokenPod', () => strs(this.userExtra['authentication.kubernetes.io/pod-name'])[0] ?? '');
  }
  get sourceIp(): string {
    return this.once('sourceIp', () => strs(this.ka.sourceIPs).at(-1) ?? '');
  }
  get userAgent(): string {
    return str(this.ka.userAgent);
  }
  get responseCode(): bigint {
    if (this.code === undefined) {
      const c = obj(this.ka.responseStatus)?.code;
      this.code = typeof c === 'number' && Number.isInteger(c) ? BigInt(c) : 0n;
    }
    return this.code;
  }
  get annotations(): Record<string, string> {
    return this.once('annotations', () => stringMap(this.ka.annotations));
  }
  get decision(): string {
    return this.annotations['authorization.k8s.io/decision'] ?? '';
  }
  get reason(): string {
    return this.annotations['authorization.k8s.io/reason'] ?? '';
  }
  get requestObject(): JsonObject {
    return obj(this.ka.requestObject) ?? {};
  }
  get responseObject(): JsonObject {
    return obj(this.ka.responseObject) ?? {};
  }
  get labels(): Record<string, string> {
    return this.once('labels', () => stringMap(obj(this.requestObject.metadata)?.labels));
  }
  get objectAnnotations(): Record<string, string> {
    return this.once('objectAnnotations', () => stringMap(obj(this.requestObject.metadata)?.annotations));
  }
  get podSpec(): JsonObject {
    return this.once('podSpec', () => podSpecOf(this.resource, this.requestObject) ?? {});
  }
  get containers(): ContainerView[] {
    return this.once('containers', () =>
      // `kubectl debug` updates the pods/ephemeralcontainers subresource with the whole Pod.
      containerViews(this.subresource === 'ephemeralcontainers' ? (obj(this.requestObject.spec) ?? {}) : this.podSpec),
    );
  }
  get images(): string[] {
    return this.once('images', () => this.containers.map((c) => c.image));
  }
  get repositories(): string[] {
    return this.once('repositories', () => this.containers.map((c) => c.repository));
  }
  get hostPaths(): string[] {
    return this.once('hostPaths', () =>
      arr(this.podSpec.volumes)
        .map((v) => str(obj(v.hostPath)?.path))
        .filter((p) => p !== ''),
    );
  }
  get hostNetwork(): boolean {
    return this.podSpec.hostNetwork === true;
  }
  get hostPID(): boolean {
    return this.podSpec.hostPID === true;
  }
  get hostIPC(): boolean {
    return this.podSpec.hostIPC === true;
  }
  get serviceAccountName(): string {
    return str(this.podSpec.serviceAccountName) || str(this.podSpec.serviceAccount);
  }
  get exec(): { command: string[]; commandLine: string; container: string; tty: boolean; ports: string[] } {
    return this.once('exec', () => {
      const q = queryOf(this.uri);
      const command = q.getAll('command');
      return {
        command,
        commandLine: command.join(' '),
        container: q.get('container') ?? '',
        tty: q.get('tty') === 'true' || q.get('tty') === '1',
        ports: q.getAll('ports'),
      };
    });
  }
  get roleRef(): Record<string, string> {
    return this.once('roleRef', () => {
      const r = obj(this.requestObject.roleRef);
      return { kind: str(r?.kind), name: str(r?.name), apiGroup: str(r?.apiGroup) };
    });
  }
  get subjects(): Record<string, string>[] {
    return this.once('subjects', () =>
      arr(this.requestObject.subjects).map((s) => ({ kind: str(s.kind), name: str(s.name), namespace: str(s.namespace) })),
    );
  }
  get roleRules(): Record<string, string[]>[] {
    return this.once('roleRules', () =>
      arr(this.requestObject.rules).map((r) => ({
        verbs: strs(r.verbs),
        resources: strs(r.resources),
        apiGroups: strs(r.apiGroups),
        resourceNames: strs(r.resourceNames),
        nonResourceURLs: strs(r.nonResourceURLs),
      })),
    );
  }
  get ruleVerbs(): string[] {
    return this.once('ruleVerbs', () => this.roleRules.flatMap((r) => r.verbs ?? []));
  }
  get ruleResources(): string[] {
    return this.once('ruleResources', () => this.roleRules.flatMap((r) => r.resources ?? []));
  }
}

/** The Falco activation: a Falco event's rule, priority and fields. */
export class FalcoActivation {
  readonly rule: string;
  readonly priority: string;
  readonly output: string;
  readonly falcoSource: string;
  readonly hostname: string;
  readonly tags: string[];
  readonly fields: Record<string, string | number | boolean | null>;
  readonly ns: string;
  readonly pod: string;
  readonly container: string;
  readonly image: string;
  readonly cmdline: string;
  readonly procName: string;
  readonly procUser: string;

  constructor(e: SecurityEvent) {
    const f = e.falco;
    const field = (k: string): string => {
      const v = f?.fields[k];
      return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
    };
    this.rule = f?.rule ?? '';
    this.priority = f?.priority ?? '';
    this.output = f?.output ?? '';
    this.falcoSource = f?.source ?? '';
    this.hostname = f?.hostname ?? '';
    this.tags = f?.tags ?? [];
    this.fields = f?.fields ?? {};
    this.ns = e.k8s.namespace ?? field('k8s.ns.name');
    this.pod = e.k8s.pod ?? field('k8s.pod.name');
    this.container = e.k8s.container ?? field('container.name');
    this.image = e.k8s.image ?? field('container.image.repository');
    this.cmdline = e.process?.cmdline ?? field('proc.cmdline');
    this.procName = e.process?.name ?? field('proc.name');
    this.procUser = e.process?.user ?? field('user.name');
  }
}
