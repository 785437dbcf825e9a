import { containersPhrase, joinQuote, pluralize, sortedUnique } from '../format';
import { allContainers, asArray, containerName, isObject, str } from '../pod-spec';
import type { CheckFn, HostBoundHandler } from '../types';
import type { CheckDefinition } from './definition';
import { settersPhrase } from './setters';

const hostNamespaces: CheckFn = (_meta, spec) => {
  const shared: string[] = [];
  if (spec.hostNetwork === true) shared.push('hostNetwork=true');
  if (spec.hostPID === true) shared.push('hostPID=true');
  if (spec.hostIPC === true) shared.push('hostIPC=true');
  return shared.length > 0 ? { reason: 'host namespaces', detail: shared.join(', ') } : undefined;
};

const hostPathVolumes: CheckFn = (_meta, spec) => {
  const names = asArray(spec.volumes)
    .filter((v) => isObject(v.hostPath))
    .map((v) => str(v.name));
  if (names.length === 0) return undefined;
  return {
    reason: 'hostPath volumes',
    detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}`,
  };
};

const hostPorts: CheckFn = (_meta, spec) => {
  const bad: string[] = [];
  const ports: string[] = [];
  for (const c of allContainers(spec)) {
    const used = asArray(c.ports)
      .map((p) => p.hostPort)
      .filter((p): p is number => typeof p === 'number' && p !== 0);
    if (used.length === 0) continue;
    bad.push(containerName(c));
    ports.push(...used.map(String));
  }
  if (bad.length === 0) return undefined;
  const distinct = sortedUnique(ports);
  return {
    reason: 'hostPort',
    detail: `${containersPhrase(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('hostPort', 'hostPorts', distinct.length)} ${distinct.join(', ')}`,
  };
};

function handlerHosts(handler: HostBoundHandler | undefined): string[] {
  if (!isObject(handler)) return [];
  const hosts: string[] = [];
  for (const action of [handler.httpGet, handler.tcpSocket]) {
    if (isObject(action) && str(action.host) !== '') hosts.push(str(action.host));
  }
  return hosts;
}

const hostProbesAndHostLifecycle: CheckFn = (_meta, spec) => {
  const bad = new Set<string>();
  const hosts = new Set<string>();
  for (const c of allContainers(spec)) {
    const lifecycle = isObject(c.lifecycle) ? c.lifecycle : {};
    const found = [c.livenessProbe, c.readinessProbe, c.startupProbe, lifecycle.postStart, lifecycle.preStop].flatMap(
      handlerHosts,
    );
    if (found.length === 0) continue;
    bad.add(containerName(c));
    for (const h of found) hosts.add(h);
  }
  if (bad.size === 0) return undefined;
  const containers = sortedUnique(bad);
  const hostList = sortedUnique(hosts);
  return {
    reason: 'probe or lifecycle host',
    detail: `${containersPhrase(containers)} ${pluralize('uses', 'use', containers.length)} ${pluralize('probe or lifecycle host', 'probe or lifecycle hosts', hostList.length)} ${joinQuote(hostList)}`,
  };
};

const windowsHostProcess: CheckFn = (_meta, spec) => {
  const bad = allContainers(spec)
    .filter((c) => c.securityContext?.windowsOptions?.hostProcess === true)
    .map(containerName);
  const pod = spec.securityContext?.windowsOptions?.hostProcess === true;
  if (!pod && bad.length === 0) return undefined;
  return {
    reason: 'hostProcess',
    detail: `${settersPhrase(pod, bad)} must not set securityContext.windowsOptions.hostProcess=true`,
  };
};

export const HOST_NAMESPACES: CheckDefinition = {
  id: 'hostNamespaces',
  level: 'baseline',
  versions: [{ since: 0, check: hostNamespaces }],
};

export const HOST_PATH_VOLUMES: CheckDefinition = {
  id: 'hostPathVolumes',
  level: 'baseline',
  supersededBy: 'restrictedVolumes',
  versions: [{ since: 0, check: hostPathVolumes }],
};

export const HOST_PORTS: CheckDefinition = {
  id: 'hostPorts',
  level: 'baseline',
  versions: [{ since: 0, check: hostPorts }],
};

export const HOST_PROBES_AND_HOST_LIFECYCLE: CheckDefinition = {
  id: 'hostProbesAndHostLifecycle',
  level: 'baseline',
  versions: [{ since: 34, check: hostProbesAndHostLifecycle }],
};

export const WINDOWS_HOST_PROCESS: CheckDefinition = {
  id: 'windowsHostProcess',
  level: 'baseline',
  versions: [{ since: 0, check: windowsHostProcess }],
};
