/**
 * Findings of the policy and scanning tools that run next to Falco (Kyverno and other PolicyReport
 * producers, OPA Gatekeeper, trivy-operator), normalised into one bounded shape. Only summaries and
 * the top findings of each report are kept, never the report itself.
 */

export type FindingSource = 'kyverno' | 'gatekeeper' | 'trivy' | 'policy-report';

export type FindingCategory = 'policy' | 'vulnerability' | 'config-audit' | 'rbac-assessment';

/** Falconer's severity scale; see docs/integrations.md for how each tool's values map onto it. */
export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export const SEVERITY_RANK: Readonly<Record<FindingSeverity, number>> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

/** The object a finding is about. `namespace` is absent for cluster-scoped objects. */
export interface ResourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface VulnerabilityDetail {
  /** The package (trivy's `resource`). */
  package: string;
  installedVersion: string;
  /** Empty when no fixed version is published. */
  fixedVersion: string;
  score?: number;
  /** `repository:tag` as trivy-operator scanned it. */
  image: string;
  link?: string;
}

export interface Finding {
  /** Stable across re-reports of the same problem: what the diff against the previous report compares. */
  id: string;
  source: FindingSource;
  category: FindingCategory;
  /** The policy (`policy/rule`), constraint (`Kind/name`), check id (`KSV012`) or CVE id. */
  check: string;
  severity: FindingSeverity;
  resource: ResourceRef;
  container?: string;
  /** Capped at MAX_MESSAGE characters. */
  message: string;
  /** Only for category `vulnerability`. */
  vulnerability?: VulnerabilityDetail;
}

export type ReportKind =
  | 'PolicyReport'
  | 'ClusterPolicyReport'
  | 'Report'
  | 'ClusterReport'
  | 'Constraint'
  | 'VulnerabilityReport'
  | 'ConfigAuditReport'
  | 'RbacAssessmentReport'
  | 'Event';

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
}

/**
 * What is kept of one report object (or one Event): who it is about, counts, the ids of every failing
 * finding (capped, for the diff) and the most severe findings in full (capped, for alerts and context).
 */
export interface ReportSummary {
  /** `kind/namespace/name` of the report object itself. */
  key: string;
  kind: ReportKind;
  /** The workload a trivy-operator report is about (its labels), when it names one. */
  subject?: ResourceRef;
  container?: string;
  image?: string;
  counts: SeverityCounts;
  /** Failing findings with a fixed version published (vulnerability reports). */
  fixable: number;
  /** Failing findings in the report, including those not kept below. */
  failing: number;
  /** Ids of failing findings, at most MAX_IDS. */
  ids: string[];
  /** The most severe failing findings, at most MAX_TOP (MAX_TOP_UNSCOPED without a subject). */
  top: Finding[];
  /** An Event records one occurrence: news when it first arrives live, never "resolved" by going away. */
  occurrence: boolean;
}

export const MAX_TOP = 10;
/** A report about many resources (a constraint, an unscoped ClusterPolicyReport) keeps more, so each is found. */
export const MAX_TOP_UNSCOPED = 100;
export const MAX_IDS = 2_000;
export const MAX_MESSAGE = 500;
