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
  const known = (d as { [FINGERPRINT]?: string })[FINGERPRINT];
  if (known !== undefined) return known;
  const digest = hash('sha256', fingerprintParts(d).join('\u0000'), 'hex');
  // Two short slices joined: a fingerprint lives as long as its alert (history, recent alerts,
  // dedup), and `slice(0, 24)` would keep the whole 64-character digest alive behind it (77 bytes
  // per fingerprint instead of 149).
  const fp = [digest.slice(0, 12), digest.slice(12, 24)].join('');
  if (Object.isExtensible(d)) Object.defineProperty(d, FINGERPRINT, { value: fp });
  return fp;
}

/**
 * The fingerprint, kept on its detection (never changed once made): the correlate and alert stages
 * both ask for it. Non-enumerable, so a spread copy (a detection made from another) does not carry
 * it. Not a WeakMap, as `seenKey` (src/pipeline/seen.ts): its entries are ephemerons each GC traces,
 * and get-and-set there was ~4 % of the pipeline's CPU profile (docs/performance.md § base-path).
 */
const FINGERPRINT = Symbol('fingerprint');
