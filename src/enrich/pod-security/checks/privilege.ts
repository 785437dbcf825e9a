import { containersPhrase, joinQuote, sortedUnique } from '../format';
import { allContainers, containerName, isObject } from '../pod-spec';
import type { CheckFn, Container, PodSpec } from '../types';
import type { CheckDefinition } from './definition';
import { exemptingWindows } from './windows';

/** The capabilities a container runtime grants by default; baseline lets a container add only these. */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

function capabilityList(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

/** The capabilities block, only when the container has one (Go: SecurityContext and Capabilities non-nil). */
function capabilitiesOf(c: Container): { add: string[]; drop: string[] } | undefined {
  const sc = c.securityContext;
  if (!isObject(sc) || !isObject(sc.capabilities)) return undefined;
  return {
    add: capabilityList(sc.capabilities.add),
    drop: capabilityList(sc.capabilities.drop),
  };
}

const privileged: CheckFn = (_meta, spec) => {
  const bad = allContainers(spec)
    .filter((c) => c.securityContext?.privileged === true)
    .map(containerName);
  if (bad.length === 0) return undefined;
  return {
    reason: 'privileged',
    detail: `${containersPhrase(bad)} must not set securityContext.privileged=true`,
  };
};

const capabilitiesBaseline: CheckFn = (_meta, spec) => {
  const bad: string[] = [];
  const added: string[] = [];
  for (const c of allContainers(spec)) {
    const extra = (capabilitiesOf(c)?.add ?? []).filter((cap) => !DEFAULT_CAPABILITIES.has(cap));
    if (extra.length === 0) continue;
    bad.push(containerName(c));
    added.push(...extra);
  }
  if (bad.length === 0) return undefined;
  return {
    reason: 'non-default capabilities',
    detail: `${containersPhrase(bad)} must not include ${joinQuote(sortedUnique(added))} in securityContext.capabilities.add`,
  };
};

const capabilitiesRestricted: CheckFn = (_meta, spec) => {
  const missingDropAll: string[] = [];
  const addingForbidden: string[] = [];
  const forbidden: string[] = [];
  for (const c of allContainers(spec)) {
    const caps = capabilitiesOf(c);
    if (!caps) {
      missingDropAll.push(containerName(c));
      continue;
    }
    if (!caps.drop.includes('ALL')) missingDropAll.push(containerName(c));
    const extra = caps.add.filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (extra.length > 0) {
      addingForbidden.push(containerName(c));
      forbidden.push(...extra);
    }
  }
  const details: string[] = [];
  if (missingDropAll.length > 0) {
    details.push(`${containersPhrase(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`);
  }
  if (addingForbidden.length > 0) {
    details.push(
      `${containersPhrase(addingForbidden)} must not include ${joinQuote(sortedUnique(forbidden))} in securityContext.capabilities.add`,
    );
  }
  return details.length > 0 ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
};

const allowPrivilegeEscalation: CheckFn = (_meta, spec) => {
  const bad = allContainers(spec)
    .filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
    .map(containerName);
  if (bad.length === 0) return undefined;
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false`,
  };
};

/** Any procMount other than `Default` unmasks /proc. */
const procMountStrict: CheckFn = (_meta, spec) => {
  const bad: string[] = [];
  const types: string[] = [];
  for (const c of allContainers(spec)) {
    const procMount = c.securityContext?.procMount;
    if (procMount === undefined || procMount === null || procMount === 'Default') continue;
    bad.push(containerName(c));
    types.push(String(procMount));
  }
  if (bad.length === 0) return undefined;
  return {
    reason: 'procMount',
    detail: `${containersPhrase(bad)} must not set securityContext.procMount to ${joinQuote(sortedUnique(types))}`,
  };
};

function inUserNamespace(spec: PodSpec): boolean {
  return spec.hostUsers === false;
}

/** From v1.35 baseline lets a pod in its own user namespace (hostUsers: false) unmask /proc. */
const procMountUserNamespaceAware: CheckFn = (meta, spec) => (inUserNamespace(spec) ? undefined : procMountStrict(meta, spec));

export const PRIVILEGED: CheckDefinition = {
  id: 'privileged',
  level: 'baseline',
  versions: [{ since: 0, check: privileged }],
};

export const CAPABILITIES_BASELINE: CheckDefinition = {
  id: 'capabilities_baseline',
  level: 'baseline',
  supersededBy: 'capabilities_restricted',
  versions: [{ since: 0, check: capabilitiesBaseline }],
};

export const CAPABILITIES_RESTRICTED: CheckDefinition = {
  id: 'capabilities_restricted',
  level: 'restricted',
  versions: [
    { since: 22, check: capabilitiesRestricted },
    { since: 25, check: exemptingWindows(capabilitiesRestricted) },
  ],
};

export const ALLOW_PRIVILEGE_ESCALATION: CheckDefinition = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  versions: [
    { since: 8, check: allowPrivilegeEscalation },
    { since: 25, check: exemptingWindows(allowPrivilegeEscalation) },
  ],
};

export const PROC_MOUNT: CheckDefinition = {
  id: 'procMount',
  level: 'baseline',
  supersededBy: 'procMount_restricted',
  versions: [
    { since: 0, check: procMountStrict },
    { since: 35, check: procMountUserNamespaceAware },
  ],
};

export const PROC_MOUNT_RESTRICTED: CheckDefinition = {
  id: 'procMount_restricted',
  level: 'restricted',
  versions: [{ since: 35, check: procMountStrict }],
};
