import type { CheckDefinition } from './definition';
import { APPARMOR_PROFILE, SECCOMP_PROFILE_BASELINE, SECCOMP_PROFILE_RESTRICTED, SELINUX_OPTIONS } from './confinement';
import { HOST_NAMESPACES, HOST_PATH_VOLUMES, HOST_PORTS, HOST_PROBES_AND_HOST_LIFECYCLE, WINDOWS_HOST_PROCESS } from './host';
import {
  ALLOW_PRIVILEGE_ESCALATION,
  CAPABILITIES_BASELINE,
  CAPABILITIES_RESTRICTED,
  PRIVILEGED,
  PROC_MOUNT,
  PROC_MOUNT_RESTRICTED,
} from './privilege';
import { SYSCTLS } from './sysctls';
import { RUN_AS_NON_ROOT, RUN_AS_USER } from './users';
import { RESTRICTED_VOLUMES } from './volumes';

/**
 * Every check, in the order upstream registers them (its check_*.go files in byte order), which is
 * the order violations appear in its messages: baseline checks first, then restricted ones.
 */
export const CHECKS: readonly CheckDefinition[] = [
  ALLOW_PRIVILEGE_ESCALATION,
  APPARMOR_PROFILE,
  CAPABILITIES_BASELINE,
  CAPABILITIES_RESTRICTED,
  HOST_NAMESPACES,
  HOST_PATH_VOLUMES,
  HOST_PORTS,
  HOST_PROBES_AND_HOST_LIFECYCLE,
  PRIVILEGED,
  PROC_MOUNT,
  PROC_MOUNT_RESTRICTED,
  RESTRICTED_VOLUMES,
  RUN_AS_NON_ROOT,
  RUN_AS_USER,
  SELINUX_OPTIONS,
  SECCOMP_PROFILE_BASELINE,
  SECCOMP_PROFILE_RESTRICTED,
  SYSCTLS,
  WINDOWS_HOST_PROCESS,
];

export type { CheckDefinition } from './definition';
export { implementationAt } from './definition';
