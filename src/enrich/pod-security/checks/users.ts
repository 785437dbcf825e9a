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

export const RUN_AS_NON_ROOT: CheckDefinition = {
  id: 'runAsNonRoot',
  level: 'restricted',
  versions: [{ since: 0, check: runAsNonRoot }],
};

export const RUN_AS_USER: CheckDefinition = {
  id: 'runAsUser',
  level: 'restricted',
  versions: [{ since: 23, check: runAsUser }],
};
