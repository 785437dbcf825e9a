import { allContainers, containerName } from '../pod-spec';
import type { CheckFn } from '../types';
import type { CheckDefinition } from './definition';
import { settersPhrase } from './setters';
import { containersPhrase } from '../format';

const runAsNonRoot: CheckFn = (_meta, spec) => {
  const podSetting = spec.securityContext?.runAsNonRoot;
  const podSetFalse = podSetting === false;
  const podSetTrue = podSetting === true;
  const explicitlyBad: string[] = [];
  const implicitlyBad: string[] = [];
  for (const c of allContainers(spec)) {
    const setting = c.securityContext?.runAsNonRoot;
    if (typeof setting === 'boolean') {
      if (!setting) explicitlyBad.push(containerName(c));
    } else if (!podSetTrue) {
      implicitlyBad.push(containerName(c));
    }
  }
  if (podSetFalse || explicitlyBad.length > 0) {
    return {
      reason: 'runAsNonRoot != true',
      detail: `${settersPhrase(podSetFalse, explicitlyBad)} must not set securityContext.runAsNonRoot=false`,
    };
  }
  if (implicitlyBad.length > 0) {
    return {
      reason: 'runAsNonRoot != true',
      detail: `pod or ${containersPhrase(implicitlyBad)} must set securityContext.runAsNonRoot=true`,
    };
  }
  return undefined;
};

const runAsUser: CheckFn = (_meta, spec) => {
  const pod = spec.securityContext?.runAsUser === 0;
  const bad = allContainers(spec)
    .filter((c) => c.securityContext?.runAsUser === 0)
    .map(containerName);
  if (!pod && bad.length === 0) return undefined;
  return {
    reason: 'runAsUser=0',
    detail: `${settersPhrase(pod, bad)} must not set runAsUser=0`,
  };
};

/**
 * A pod in its own user namespace (`hostUsers: false`) may run as UID 0 in it: that UID is not root on the
 * node. Upstream (policy/check_runAsNonRoot.go runAsNonRoot1_35, check_runAsUser.go runAsUser1_35,
 * helpers.go relaxPolicyForUserNamespacePod) exempts such pods unconditionally from v1.35 on; the feature
 * gate that once relaxed the older versions was dropped, so v1.0–v1.34 still deny them.
 */
function exemptInUserNamespace(check: CheckFn): CheckFn {
  return (meta, spec) => (spec.hostUsers === false ? undefined : check(meta, spec));
}

export const RUN_AS_NON_ROOT: CheckDefinition = {
  id: 'runAsNonRoot',
  level: 'restricted',
  versions: [
    { since: 0, check: runAsNonRoot },
    { since: 35, check: exemptInUserNamespace(runAsNonRoot) },
  ],
};

export const RUN_AS_USER: CheckDefinition = {
  id: 'runAsUser',
  level: 'restricted',
  versions: [
    { since: 23, check: runAsUser },
    { since: 35, check: exemptInUserNamespace(runAsUser) },
  ],
};
