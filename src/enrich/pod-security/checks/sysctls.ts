import type { CheckFn } from '../types';
import { asArray, str } from '../pod-spec';
import type { CheckDefinition } from './definition';

/** Namespaced sysctls that stay isolated from other pods; the safe set grows with the policy version. */
const SAFE_SYSCTLS_ADDED: ReadonlyArray<{
  since: number;
  names: readonly string[];
}> = [
  {
    since: 0,
    names: [
      'kernel.shm_rmid_forced',
      'net.ipv4.ip_local_port_range',
      'net.ipv4.tcp_syncookies',
      'net.ipv4.ping_group_range',
      'net.ipv4.ip_unprivileged_port_start',
    ],
  },
  { since: 27, names: ['net.ipv4.ip_local_reserved_ports'] },
  {
    since: 29,
    names: [
      'net.ipv4.tcp_keepalive_time',
      'net.ipv4.tcp_fin_timeout',
      'net.ipv4.tcp_keepalive_intvl',
      'net.ipv4.tcp_keepalive_probes',
    ],
  },
  { since: 32, names: ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'] },
  {
    since: 37,
    names: ['net.ipv4.tcp_notsent_lowat', 'net.ipv4.tcp_slow_start_after_idle'],
  },
];

export function safeSysctlsAt(minor: number): ReadonlySet<string> {
  return new Set(SAFE_SYSCTLS_ADDED.filter((s) => s.since <= minor).flatMap((s) => s.names));
}

function sysctlsAllowing(safe: ReadonlySet<string>): CheckFn {
  return (_meta, spec) => {
    const forbidden = asArray(spec.securityContext?.sysctls)
      .map((s) => str(s.name))
      .filter((name) => !safe.has(name));
    return forbidden.length > 0 ? { reason: 'forbidden sysctls', detail: forbidden.join(', ') } : undefined;
  };
}

export const SYSCTLS: CheckDefinition = {
  id: 'sysctls',
  level: 'baseline',
  versions: SAFE_SYSCTLS_ADDED.map(({ since }) => ({
    since,
    check: sysctlsAllowing(safeSysctlsAt(since)),
  })),
};
