import type { Priority } from './priority';
import type { EventSource, SecurityEvent } from './event';

/** What a detector says about one event: a rule matched. */
export interface Detection {
  /** The rule's name (Falco's own rule name for Falco events). */
  rule: string;
  /** Stable rule id (for Falco events, the rule name). */
  ruleId: string;
  priority: Priority;
  source: EventSource;
  tags: string[];
  /** One line for humans: Falco's `output`, or the rendered template of a Falconer rule. */
  summary: string;
  /** Runbook URL or path, if the rule names one. */
  runbook?: string;
  event: SecurityEvent;
  /** Ids of matching rules that amend only once the enrichment is known (RuleSet.escalate). */
  pending?: string[];
}

/**
 * A part of the enrichment: the facts when cluster state had them, or why not. Unknown is said, never
 * guessed ("no bindings" and "bindings not known" are different answers).
 */
export type Enriched<T, U = object> = ({ known: true } & T) | ({ known: false; reason: string } & U);

/** One risky permission the subject holds (see docs/rbac.md for the ids). */
export interface RiskySummary {
  id: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  title: string;
  /** `cluster`, or the namespace a RoleBinding limits it to. */
  scope: string;
  /** The binding and role that grant it, in the apiserver's words. */
  grantedBy: string;
  resourceNames?: string[];
}

/** How the subject was found. */
export type SubjectOrigin = 'audit-user' | 'impersonated-user' | 'falco-audit-user' | 'pod-service-account' | 'attributed-user';

export interface SubjectFacts {
  user: string;
  kind: 'user' | 'serviceaccount';
  /** Including the groups authentication adds. */
  groups: string[];
  origin: SubjectOrigin;
  /** For an impersonated subject: who impersonated it. */
  impersonatedBy?: string;
  /** How each applicable binding grants its role (capped; `bindingCount` is the total). */
  bindings: string[];
  bindingCount: number;
  /** Most severe first (capped; `findingCount` is the total). */
  findings: RiskySummary[];
  findingCount: number;
}

export interface PssViolation {
  /** Upstream check id, e.g. `privileged`. */
  check: string;
  reason: string;
  detail: string;
}

export interface NamespacePssFacts {
  /** `level:version` per mode, e.g. `baseline:latest`. */
  enforce: string;
  audit: string;
  warn: string;
  /** Whether the admission controller would admit this pod under the enforce level. */
  meetsEnforce: boolean;
  /** Pod security labels that could not be parsed. */
  errors: string[];
}

export interface PodFacts {
  namespace: string;
  name: string;
  /** `state`: from cluster state; `audit-object`: from the audit event's own request/response object. */
  origin: 'state' | 'audit-object';
  serviceAccount?: string;
  node?: string;
  privileged: boolean;
  /** Containers (of any kind) running privileged. */
  privilegedContainers: string[];
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  /** Capabilities added by any container, deduplicated. */
  capabilitiesAdded: string[];
  /** `yes`: some container runs as UID 0; `no`: none can; `possible`: the image's USER decides. */
  runAsRoot: 'yes' | 'no' | 'possible';
  hostPathVolumes: string[];
  /** The strictest Pod Security Standard the pod meets (at `latest`) and what keeps it from the next one. */
  pss: { level: 'privileged' | 'baseline' | 'restricted'; version: string; violations: PssViolation[] };
  namespacePolicy: Enriched<NamespacePssFacts>;
}

export interface DirectionFacts {
  isolated: boolean;
  /** Policies that select the pod for this direction (capped). */
  policies: string[];
  /** The namespace has a select-all policy with no rules for this direction. */
  defaultDeny: boolean;
  /** Isolated, yet a selecting policy lets any peer in/out on some port. */
  anyPeerAllowed: boolean;
}

export interface NetworkFacts {
  namespace: string;
  ingress: DirectionFacts;
  egress: DirectionFacts;
}

/** One CVE as enrichment lists it (top ones by severity and score, with the version that fixes it). */
export interface CveSummary {
  id: string;
  severity: string;
  score?: number;
  package: string;
  installedVersion: string;
  /** Empty when no fix is published. */
  fixedVersion: string;
}

/** trivy-operator's VulnerabilityReport of one container image of the pod's workload. */
export interface ImageVulnerabilities {
  container?: string;
  image: string;
  critical: number;
  high: number;
  medium: number;
  /** Vulnerabilities with a fixed version published. */
  fixable: number;
  top: CveSummary[];
}

export interface VulnerabilityFacts {
  images: ImageVulnerabilities[];
  /** Totals over the images, for rules and the one-line summary. */
  critical: number;
  high: number;
  medium: number;
  fixable: number;
  /** Critical vulnerabilities with a fix published (in the images' top CVEs). */
  criticalFixable: number;
}

/** A failing Kyverno/Gatekeeper/PolicyReport result or trivy config-audit check about the pod or its workload. */
export interface PolicyResultSummary {
  source: string;
  category: string;
  check: string;
  severity: string;
  /** `Kind namespace/name` of what it is about (the pod, its ReplicaSet or Deployment ...). */
  resource: string;
  message: string;
}

export interface PolicyFacts {
  /** Failing results in total (more than `results` lists when capped). */
  failing: number;
  /** Most severe first (capped). */
  results: PolicyResultSummary[];
}

export type SubjectEnrichment = Enriched<SubjectFacts, { user?: string }>;
export type PodEnrichment = Enriched<PodFacts, { namespace: string; name: string }>;
export type NetworkEnrichment = Enriched<NetworkFacts>;

/**
 * Enrichment attached to an alert: who did it and what they may do, how the pod is configured, how
 * exposed it is. A part is absent when the alert does not name a subject or a pod.
 */
export interface Enrichment {
  subject?: SubjectEnrichment;
  pod?: PodEnrichment;
  network?: NetworkEnrichment;
  /** trivy-operator's findings on the pod's images (absent: no pod, or no report known for it). */
  vulnerabilities?: VulnerabilityFacts;
  /** Failing policy results about the pod and its workload (absent: no pod, or none known). */
  policy?: PolicyFacts;
}

/** Why every part of an enrichment is unknown when its cluster has no state at all. */
export function noClusterState(cluster: string): string {
  return `no cluster state for cluster "${cluster}" (see docs/cluster-state.md)`;
}

/** Whether the enrichment knows nothing because its cluster has no state (one notice says it, not every part). */
export function lacksClusterState(enrichment: Enrichment): boolean {
  const parts = [enrichment.subject, enrichment.pod, enrichment.network].filter((p) => p !== undefined);
  return parts.length > 0 && parts.every((p) => !p.known && p.reason.startsWith('no cluster state'));
}

export type AttributionConfidence = 'exact' | 'high' | 'low' | 'ambiguous';

/** One exec/attach/debug session that could have started the process (docs/correlation.md). */
export interface AttributionCandidate {
  user: string;
  groups: string[];
  sourceIPs: string[];
  userAgent: string | null;
  auditID: string;
  command: string | null;
  kind: 'exec' | 'attach' | 'debug';
}

/**
 * Who opened the session a runtime event happened in. `ambiguous`: more than one user had a session
 * open that fits, and nothing tells them apart; `user` is then null and `candidates` lists them.
 */
export interface Attribution {
  user: string | null;
  groups: string[];
  sourceIPs: string[];
  userAgent: string | null;
  auditID: string | null;
  command: string | null;
  confidence: AttributionConfidence;
  candidates: AttributionCandidate[];
  /** The attributed user's RBAC, as an audit alert's subject gets it. */
  subject?: SubjectEnrichment;
}

/** The incident an alert belongs to (docs/correlation.md#incidents). */
export interface AlertIncident {
  id: string;
  /** The incident's first alert: its announcement is the incident's parent message. */
  parent: string;
  severity: Priority;
  alerts: number;
  chain: string | null;
  /** The member alert whose arrival completed the chain (its post is broadcast to the channel). */
  chainCompletedBy?: string;
  /** The incident's latest timeline entries, oldest first (for the parent message). */
  timeline?: { time: string; source: EventSource; rule: string; user?: string }[];
  /** Set when this incident was merged into another (an alert linked them): the one it goes on as. */
  mergedInto?: string;
}

export interface Alert {
  /** Identifies the activity; equal fingerprints are deduplicated. */
  fingerprint: string;
  rule: string;
  ruleId: string;
  priority: Priority;
  source: EventSource;
  tags: string[];
  summary: string;
  runbookUrl: string;
  labels: Record<string, string>;
  /** The first event's id and the latest ones (bounded). */
  evidence: string[];
  /** The latest event, for rendering. */
  event: SecurityEvent;
  enrichment: Enrichment;
  /** Runtime alerts: who opened the session the process ran in. Absent when nothing attributes it. */
  attribution?: Attribution;
  incident?: AlertIncident;
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** Ids of the silences that muted the latest occurrence (absent or empty: none). */
  silencedBy?: string[];
  /** Fingerprints of the alerts whose inhibit rules muted it. */
  inhibitedBy?: string[];
  /** When it resolved (ms): no occurrence for the quiet period. Absent while it fires. */
  resolvedAt?: number;
  /**
   * Set on the notification of a group (the routing tree's grouping): the alert stands for the group,
   * with its own fingerprint and the group's first alert time, and carries the members.
   */
  group?: AlertGroup;
}

/** What one group notification says (src/alert/group.ts). */
export interface AlertGroup {
  key: string;
  receiver: string;
  labels: Record<string, string>;
  /** Firing members first, then those resolved since the last notification; at most a bounded number. */
  alerts: Alert[];
  /** Members left out of `alerts` by the bound. */
  truncated: number;
  /** By fingerprint: members that resolved, and when. */
  resolvedAt: Record<string, number>;
  reason: 'first notification' | 'new alerts added' | 'some alerts resolved' | 'all alerts resolved' | 'repeat interval elapsed';
}
