/**
 * The slice of the Kubernetes Pod API that the Pod Security Standards look at. Inputs are plain
 * JSON (parsed YAML), so every field is optional and may hold anything; checks read defensively.
 */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SELinuxOptions {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface SeccompProfile {
  type?: string;
  localhostProfile?: string;
}

export interface AppArmorProfile {
  type?: string;
  localhostProfile?: string;
}

export interface WindowsOptions {
  hostProcess?: boolean;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
}

export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  procMount?: string;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  seLinuxOptions?: SELinuxOptions;
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  windowsOptions?: WindowsOptions;
}

export interface PodSecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  seLinuxOptions?: SELinuxOptions;
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  windowsOptions?: WindowsOptions;
  sysctls?: Array<{ name?: string; value?: string }>;
}

export interface HostBoundHandler {
  httpGet?: { host?: string };
  tcpSocket?: { host?: string };
}

export interface Container {
  name?: string;
  ports?: Array<{ hostPort?: number; containerPort?: number }>;
  securityContext?: SecurityContext;
  livenessProbe?: HostBoundHandler;
  readinessProbe?: HostBoundHandler;
  startupProbe?: HostBoundHandler;
  lifecycle?: { postStart?: HostBoundHandler; preStop?: HostBoundHandler };
}

/** A volume: `name` plus exactly one source key (hostPath, emptyDir, nfs, ...). */
export type Volume = { name?: string } & Record<string, unknown>;

export interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  hostUsers?: boolean;
  os?: { name?: string };
  securityContext?: PodSecurityContext;
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
}

export const LEVELS = ['privileged', 'baseline', 'restricted'] as const;
export type Level = (typeof LEVELS)[number];

/** A policy version: a minor of Kubernetes 1.x, or `latest`. */
export type PolicyVersion = { minor: number } | 'latest';

/** One failed check, worded as k8s.io/pod-security-admission words it. */
export interface Violation {
  /** Upstream check id, e.g. `allowPrivilegeEscalation`. */
  check: string;
  /** Short reason, e.g. `allowPrivilegeEscalation != false`. */
  reason: string;
  /** Specifics, e.g. `container "x" must set securityContext.allowPrivilegeEscalation=false`; may be empty. */
  detail: string;
}

/** What one versioned check implementation returns: nothing when allowed. */
export type CheckOutcome = { reason: string; detail: string } | undefined;

export type CheckFn = (meta: ObjectMeta, spec: PodSpec) => CheckOutcome;
