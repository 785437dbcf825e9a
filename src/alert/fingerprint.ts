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

/** By detection object (never changed once made): the correlate and alert stages both ask for it. */
const computed = new WeakMap<Detection, string>();

export function fingerprint(d: Detection): string {
  let fp = computed.get(d);
  if (fp === undefined) {
    const digest = hash('sha256', fingerprintParts(d).join('\u0000'), 'hex');
    // Two short slices joined: a fingerprint lives as long as its alert (history, recent alerts,
    // dedup), and `slice(0, 24)` would keep the whole 64-character digest alive behind it (77 bytes
    // per fingerprint instead of 149).
    fp = [digest.slice(0, 12), digest.slice(12, 24)].join('');
    computed.set(d, fp);
  }
  return fp;
}
