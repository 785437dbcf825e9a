import { hash } from 'node:crypto';
import type { Detection } from '../core/alert';

/**
 * What makes two detections "the same activity" (see docs/configuration.md#deduplication):
 * - Falco runtime events: rule, cluster, namespace, pod, container, and the process command line
 *   (or, for host events, the hostname). Time, pids and Falco's output text are not part of it.
 * - Audit events: rule, cluster, the acting user, verb, resource/subresource, namespace and object name.
 *   For exec, attach and port-forward the verb is only the transport (get: WebSocket, create: SPDY), and
 *   kubectl falls back from one to the other within one command: both count as one verb, `connect`.
 * - Findings (Kyverno, Gatekeeper, trivy-operator): rule, cluster and the finding's id.
 */
const STREAM_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);
const TRANSPORT_VERBS: ReadonlySet<string> = new Set(['get', 'create']);

export function fingerprintParts(d: Detection): string[] {
  const e = d.event;
  const k = e.k8s;
  // A finding is the same activity for as long as it fails: its id names check, resource and detail.
  if (e.finding) return [d.ruleId, k.cluster, e.finding.id];
  if (e.audit) {
    const ref = e.audit.objectRef;
    return [
      d.ruleId,
      k.cluster,
      e.actor?.user ?? '',
      STREAM_SUBRESOURCES.has(ref?.subresource ?? '') && TRANSPORT_VERBS.has(e.audit.verb) ? 'connect' : e.audit.verb,
      ref?.resource ?? '',
      ref?.subresource ?? '',
      ref?.namespace ?? '',
      ref?.name ?? '',
    ];
  }
  const host = k.containerId === 'host' || !k.pod ? (e.falco?.hostname ?? '') : '';
  return [d.ruleId, k.cluster, k.namespace ?? '', k.pod ?? '', k.container ?? '', e.process?.cmdline ?? '', host];
}

export function fingerprint(d: Detection): string {
  if (d === last.detection) return last.fingerprint;
  const digest = hash('sha256', fingerprintParts(d).join('\u0000'), 'hex');
  // Two short slices joined: a fingerprint lives as long as its alert (history, recent alerts,
  // dedup), and `slice(0, 24)` would keep the whole 64-character digest alive behind it (77 bytes
  // per fingerprint instead of 149).
  const fp = [digest.slice(0, 12), digest.slice(12, 24)].join('');
  last.detection = d;
  last.fingerprint = fp;
  return fp;
}

/**
 * The last detection's fingerprint (a detection is never changed once made): the correlate stage
 * and then the alert stage ask for the same detection, one after the other. Not a WeakMap nor a
 * property on the detection: get-and-set on a WeakMap measured 1.85 µs per fingerprint and a
 * `defineProperty` 1.7–2.9, against 1.1 for hashing it (docs/performance.md § base-path).
 */
const last: { detection?: Detection; fingerprint: string } = { fingerprint: '' };
