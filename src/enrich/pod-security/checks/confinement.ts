import { goQuote, joinQuote, pluralize, sortedUnique } from '../format';
import { allContainers, containerName, isObject, str } from '../pod-spec';
import type { CheckFn, ObjectMeta } from '../types';
import type { CheckDefinition } from './definition';
import { settersPhrase } from './setters';
import { exemptingWindows } from './windows';

// ---- AppArmor ------------------------------------------------------------------------------

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';
const ALLOWED_PROFILE_TYPES = new Set(['RuntimeDefault', 'Localhost']);

function allowedAppArmorAnnotation(value: string): boolean {
  return value === '' || value === 'runtime/default' || value.startsWith('localhost/');
}

function annotationsOf(meta: ObjectMeta): Array<[string, string]> {
  if (!isObject(meta.annotations)) return [];
  return Object.entries(meta.annotations).map(([k, v]) => [k, str(v)]);
}

/** Both the appArmorProfile fields (pod and containers) and the deprecated per-container annotations. */
const appArmorProfile: CheckFn = (meta, spec) => {
  const badValues: string[] = [];
  const podProfile = spec.securityContext?.appArmorProfile;
  const podBad = isObject(podProfile) && !ALLOWED_PROFILE_TYPES.has(str(podProfile.type));
  if (podBad) badValues.push(str(podProfile.type));
  const badContainers: string[] = [];
  for (const c of allContainers(spec)) {
    const profile = c.securityContext?.appArmorProfile;
    if (isObject(profile) && !ALLOWED_PROFILE_TYPES.has(str(profile.type))) {
      badContainers.push(containerName(c));
      badValues.push(str(profile.type));
    }
  }
  const setters = settersPhrase(podBad, badContainers);
  const forbiddenAnnotations = annotationsOf(meta)
    .filter(([k, v]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX) && !allowedAppArmorAnnotation(v))
    .map(([k, v]) => `${k}=${goQuote(v)}`)
    .sort();
  const allSetters = setters === '' ? [] : [setters];
  const values = sortedUnique(badValues);
  if (forbiddenAnnotations.length > 0) {
    allSetters.push(pluralize('annotation', 'annotations', forbiddenAnnotations.length));
    values.push(...forbiddenAnnotations);
  }
  if (allSetters.length === 0) return undefined;
  return {
    reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', values.length),
    detail: `${allSetters.join(' and ')} must not set AppArmor profile type to ${joinQuote(values)}`,
  };
};

// ---- SELinux -------------------------------------------------------------------------------

const SELINUX_TYPES_1_0 = ['', 'container_t', 'container_init_t', 'container_kvm_t'];
const SELINUX_TYPES_1_31 = [...SELINUX_TYPES_1_0, 'container_engine_t'];

function seLinuxOptionsAllowing(allowedTypes: readonly string[]): CheckFn {
  const allowed = new Set(allowedTypes);
  return (_meta, spec) => {
    const badTypes: string[] = [];
    let setUser = false;
    let setRole = false;
    const valid = (opts: unknown): boolean => {
      if (!isObject(opts)) return true;
      let ok = true;
      const type = str(opts.type);
      if (!allowed.has(type)) {
        ok = false;
        badTypes.push(type);
      }
      if (str(opts.user) !== '') {
        ok = false;
        setUser = true;
      }
      if (str(opts.role) !== '') {
        ok = false;
        setRole = true;
      }
      return ok;
    };
    const podBad = !valid(spec.securityContext?.seLinuxOptions);
    const badContainers = allContainers(spec)
      .filter((c) => !valid(c.securityContext?.seLinuxOptions))
      .map(containerName);
    if (!podBad && badContainers.length === 0) return undefined;
    const problems: string[] = [];
    const types = sortedUnique(badTypes);
    if (types.length > 0) problems.push(`${pluralize('type', 'types', types.length)} ${joinQuote(types)}`);
    if (setUser) problems.push('user may not be set');
    if (setRole) problems.push('role may not be set');
    return {
      reason: 'seLinuxOptions',
      detail: `${settersPhrase(podBad, badContainers)} set forbidden securityContext.seLinuxOptions: ${problems.join('; ')}`,
    };
  };
}

// ---- seccomp -------------------------------------------------------------------------------

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';
const ALLOWED_SECCOMP_TYPES = new Set(['RuntimeDefault', 'Localhost']);

function allowedSeccompAnnotation(value: string): boolean {
  return value === 'runtime/default' || value === 'docker/default' || value.startsWith('localhost/');
}

/** Before v1.19 seccomp was configured through alpha annotations. */
const seccompAnnotations: CheckFn = (meta, spec) => {
  const annotations = new Map(annotationsOf(meta));
  const forbidden: string[] = [];
  const inspect = (key: string): void => {
    const value = annotations.get(key);
    if (value !== undefined && !allowedSeccompAnnotation(value)) forbidden.push(`${key}=${goQuote(value)}`);
  };
  inspect(SECCOMP_POD_ANNOTATION);
  for (const c of allContainers(spec)) inspect(SECCOMP_CONTAINER_ANNOTATION_PREFIX + containerName(c));
  if (forbidden.length === 0) return undefined;
  const distinct = sortedUnique(forbidden);
  return {
    reason: 'seccompProfile',
    detail: `forbidden ${pluralize('annotation', 'annotations', distinct.length)} ${distinct.join(', ')}`,
  };
};

/**
 * The seccompProfile fields. `required` (restricted) also demands that every container ends up
 * with a profile, its own or the pod's.
 */
function seccompFields(required: boolean): CheckFn {
  return (_meta, spec) => {
    const badValues: string[] = [];
    const podProfile = spec.securityContext?.seccompProfile;
    let podBad = false;
    let podSet = false;
    if (isObject(podProfile)) {
      if (ALLOWED_SECCOMP_TYPES.has(str(podProfile.type))) podSet = true;
      else {
        podBad = true;
        badValues.push(str(podProfile.type));
      }
    }
    const explicitlyBad: string[] = [];
    const implicitlyBad: string[] = [];
    for (const c of allContainers(spec)) {
      const profile = c.securityContext?.seccompProfile;
      if (isObject(profile)) {
        if (!ALLOWED_SECCOMP_TYPES.has(str(profile.type))) {
          explicitlyBad.push(containerName(c));
          badValues.push(str(profile.type));
        }
      } else if (!podSet) {
        implicitlyBad.push(containerName(c));
      }
    }
    if (podBad || explicitlyBad.length > 0) {
      return {
        reason: 'seccompProfile',
        detail: `${settersPhrase(podBad, explicitlyBad)} must not set securityContext.seccompProfile.type to ${joinQuote(sortedUnique(badValues))}`,
      };
    }
    if (required && implicitlyBad.length > 0) {
      return {
        reason: 'seccompProfile',
        detail: `pod or ${settersPhrase(false, implicitlyBad)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      };
    }
    return undefined;
  };
}

export const APPARMOR_PROFILE: CheckDefinition = {
  id: 'appArmorProfile',
  level: 'baseline',
  versions: [{ since: 0, check: appArmorProfile }],
};

export const SELINUX_OPTIONS: CheckDefinition = {
  id: 'seLinuxOptions',
  level: 'baseline',
  versions: [
    { since: 0, check: seLinuxOptionsAllowing(SELINUX_TYPES_1_0) },
    { since: 31, check: seLinuxOptionsAllowing(SELINUX_TYPES_1_31) },
  ],
};

export const SECCOMP_PROFILE_BASELINE: CheckDefinition = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  supersededBy: 'seccompProfile_restricted',
  versions: [
    { since: 0, check: seccompAnnotations },
    { since: 19, check: seccompFields(false) },
  ],
};

export const SECCOMP_PROFILE_RESTRICTED: CheckDefinition = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  versions: [
    { since: 19, check: seccompFields(true) },
    { since: 25, check: exemptingWindows(seccompFields(true)) },
  ],
};
