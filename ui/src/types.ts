/** The console API's JSON, as the UI reads it (docs/console.md; /work/shared-services/CONSOLE-CONTRACT.md). */

export type Priority = 'emergency' | 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'informational' | 'debug';

export interface Session {
  name: string;
  scopes: string[];
  csrf: string;
}

export interface AlertRow {
  fingerprint: string;
  priority: Priority;
  rule: string;
  source: string;
  cluster: string;
  namespace?: string | null;
  pod?: string | null;
  container?: string | null;
  user?: string | null;
  summary: string;
  count: number;
  firstSeen: number | string;
  lastSeen: number | string;
  tags: string[];
  incidentId: string | null;
  status: 'firing' | 'resolved' | 'silenced';
}

export interface AlertPage {
  items: AlertRow[];
  nextCursor: string | null;
  total: number;
}

export interface Known {
  known: true;
}
export interface Unknown {
  known: false;
  reason: string;
}

export interface RiskySummary {
  id: string;
  severity: string;
  title: string;
  scope: string;
  grantedBy: string;
  resourceNames?: string[];
}

export type SubjectEnrichment =
  | (Known & {
      user: string;
      kind: string;
      groups: string[];
      origin: string;
      impersonatedBy?: string;
      bindings: string[];
      bindingCount: number;
      findings: RiskySummary[];
      findingCount: number;
    })
  | (Unknown & { user?: string });

export interface PssViolation {
  check: string;
  reason: string;
  detail: string;
}

export type PodEnrichment =
  | (Known & {
      namespace: string;
      name: string;
      origin: string;
      serviceAccount?: string;
      node?: string;
      privileged: boolean;
      privilegedContainers: string[];
      hostNetwork: boolean;
      hostPID: boolean;
      hostIPC: boolean;
      capabilitiesAdded: string[];
      runAsRoot: string;
      hostPathVolumes: string[];
      pss: { level: string; version: string; violations: PssViolation[] };
      namespacePolicy:
        (Known & { enforce: string; audit: string; warn: string; meetsEnforce: boolean; errors: string[] }) | Unknown;
    })
  | (Unknown & { namespace: string; name: string });

export interface DirectionFacts {
  isolated: boolean;
  policies: string[];
  defaultDeny: boolean;
  anyPeerAllowed: boolean;
}

export type NetworkEnrichment = (Known & { namespace: string; ingress: DirectionFacts; egress: DirectionFacts }) | Unknown;

export interface VulnerabilityFacts {
  images: {
    container?: string;
    image: string;
    critical: number;
    high: number;
    medium: number;
    fixable: number;
    top: { id: string; severity: string; score?: number; package: string; installedVersion: string; fixedVersion: string }[];
  }[];
  critical: number;
  high: number;
  medium: number;
  fixable: number;
  criticalFixable: number;
}

export interface PolicyFacts {
  failing: number;
  results: { source: string; category: string; check: string; severity: string; resource: string; message: string }[];
}

export interface Enrichment {
  subject?: SubjectEnrichment;
  pod?: PodEnrichment;
  network?: NetworkEnrichment;
  vulnerabilities?: VulnerabilityFacts;
  policy?: PolicyFacts;
}

export interface AttributionCandidate {
  user: string;
  groups: string[];
  sourceIPs: string[];
  userAgent: string | null;
  auditID: string;
  command: string | null;
  kind: string;
}

export interface Attribution {
  user: string | null;
  groups: string[];
  sourceIPs: string[];
  userAgent: string | null;
  auditID: string | null;
  command: string | null;
  confidence: string;
  candidates: AttributionCandidate[];
  subject?: SubjectEnrichment;
}

/** `GET /v1/alerts/:fingerprint`: the full alert. */
export interface Alert {
  fingerprint: string;
  rule: string;
  ruleId: string;
  priority: Priority;
  source: string;
  tags: string[];
  summary: string;
  runbookUrl: string;
  labels?: Record<string, string>;
  evidence: string[];
  event: {
    id?: string;
    time?: string;
    k8s?: { cluster?: string; namespace?: string; pod?: string; container?: string };
    actor?: { user?: string; groups?: string[]; sourceIp?: string; impersonatedUser?: string };
    process?: { name?: string; cmdline?: string; user?: string };
    [key: string]: unknown;
  };
  enrichment?: Enrichment;
  attribution?: Attribution;
  incident?: { id: string; severity: string; alerts: number; chain: string | null };
  count: number;
  firstSeen: number;
  lastSeen: number;
  state?: string;
  silencedBy?: string[];
  inhibitedBy?: string[];
  resolvedAt?: number;
}

export interface AlertDetail {
  alert: Alert;
  evidence: unknown[];
  incidentId: string | null;
}

export interface TimelineEntry {
  fingerprint: string;
  timeMs: number;
  time: string;
  source: string;
  rule: string;
  ruleId: string;
  priority: Priority;
  tags: string[];
  summary: string;
  cluster: string;
  namespace?: string;
  pod?: string;
  container?: string;
  user?: string;
  sourceIp?: string;
  auditID?: string;
}

export interface Incident {
  id: string;
  severity: Priority;
  memberSeverity?: Priority;
  chain: string | null;
  chainMatch?: { name: string; alerts: string[]; variables: Record<string, string>; runbook?: string };
  alerts: string[];
  alertCount: number;
  pods: string[];
  subjects: string[];
  timeline: TimelineEntry[];
  firstTime: string;
  lastTime: string;
  parent: string;
}

export interface Stats {
  since: string;
  until: string;
  bucketSeconds: number;
  series: { t: string; counts: Partial<Record<Priority, number>> }[];
  topRules: { key: string; count: number }[];
  topNamespaces: { key: string; count: number }[];
  topUsers: { key: string; count: number }[];
}

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  updatedAt: string;
  status?: { state: 'pending' | 'active' | 'expired' };
}

export interface Finding {
  id: string;
  area: string;
  severity: string;
  key: string;
  object: { kind: string; name: string; namespace?: string };
  title: string;
  fix: string;
  grantedBy?: string;
  workloads?: string[];
  podCount?: number;
  builtin?: boolean;
}

export interface AreaScore {
  score: number;
  checked: number;
  findings: Record<string, number>;
}

export interface PostureReport {
  cluster: string;
  generatedAt: number;
  stale?: boolean;
  areas: string[];
  rbac?: {
    clusterAdmins: { subject: { kind: string; name: string; namespace?: string }; grantedBy: string; builtin: boolean }[];
    subjects: { subject: { kind: string; name: string; namespace?: string }; findings: { id: string }[]; worst: string }[];
    findings: Finding[];
    counts: Record<string, number>;
  };
  pss?: {
    namespaces: {
      namespace: string;
      known: boolean;
      enforce: string;
      audit: string;
      warn: string;
      pods: number;
      highestLevel: string;
      verdict: string;
    }[];
    findings: Finding[];
    counts: Record<string, number>;
  };
  network?: {
    namespaces: {
      namespace: string;
      policies: number;
      defaultDenyIngress: boolean;
      defaultDenyEgress: boolean;
      pods: number;
      unisolatedPods: number;
    }[];
    findings: Finding[];
    counts: Record<string, number>;
    note: string;
  };
  summary: { scores: Record<string, AreaScore | undefined>; topFixes: Finding[] };
}

export interface NetworkGraph {
  namespace: string;
  nodes: {
    id: string;
    kind: 'pod' | 'external' | 'namespace';
    label: string;
    isolatedIngress: boolean;
    isolatedEgress: boolean;
  }[];
  edges: { from: string; to: string; ports: unknown }[];
  /** More pods or edges than the graph draws. */
  truncated?: boolean;
}
