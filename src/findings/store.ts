import { bySeverity, normaliseFindingObject, type Normalised } from './normalise';
import { MAX_TOP, type Finding, type ReportSummary, type ResourceRef, type SeverityCounts } from './types';

/** Reports kept per cluster; past this a new report is not kept (and counted), existing ones still update. */
export const MAX_REPORTS = 100_000;
/** New findings reported per report change; the rest are counted, not itemised (a rescan must not flood). */
export const MAX_NEWS_PER_CHANGE = 50;

/**
 * How an object arrived. `state`: a snapshot or a live source's initial list — what already fails is state,
 * never news. `live`: a change seen as it happened (a watch event, the audit stream).
 */
export type ArrivalMode = 'state' | 'live';

/** What one change meant: findings that newly fail, and ids of findings that went away. */
export interface FindingChange {
  news: Finding[];
  /** New findings beyond MAX_NEWS_PER_CHANGE, not itemised. */
  newsDropped: number;
  resolved: string[];
  /** The news are occurrences (Events): nothing will say they went away, so their alerts resolve by quiet period. */
  occurrence?: boolean;
  /** Ids of a deleted report's findings: not resolved, only no longer known (their alerts resolve by quiet period). */
  released?: string[];
}

const NO_CHANGE: FindingChange = { news: [], newsDropped: 0, resolved: [] };

export interface ImageVulnerabilities {
  container?: string;
  image: string;
  counts: SeverityCounts;
  fixable: number;
  /** Most severe first, with fixed versions (at most MAX_TOP). */
  top: Finding[];
}

/** What the findings say about one pod and its workload. */
export interface PodFindings {
  vulnerabilities: ImageVulnerabilities[];
  /** Failing Kyverno/Gatekeeper/PolicyReport results and config-audit failures, most severe first. */
  policy: Finding[];
  /** Failing policy and config-audit findings in total, including those not listed. */
  policyFailing: number;
}

/** One workload's current state for the API. */
export interface WorkloadFindings {
  resource: ResourceRef;
  vulnerabilities: ImageVulnerabilities[];
  policy: Finding[];
  policyFailing: number;
}

/**
 * The summaries of one cluster's reports, indexed by the resource they are about. Pure and bounded:
 * at most MAX_REPORTS summaries of at most MAX_TOP findings and MAX_IDS ids each.
 */
export class FindingStore {
  private readonly reports = new Map<string, ReportSummary>();
  private readonly byResource = new Map<string, Set<string>>();
  private dropped = 0;

  /** Reads a raw object; undefined when it is not a kind read here (the caller may try other kinds). */
  upsert(raw: unknown, mode: ArrivalMode): FindingChange | undefined {
    const normalised = isNormalised(raw) ? raw : normaliseFindingObject(raw);
    if (!normalised) return undefined;
    const { summary, findings } = normalised;
    const previous = this.reports.get(summary.key);
    if (!previous && this.reports.size >= MAX_REPORTS) {
      this.dropped++;
      return NO_CHANGE;
    }
    if (previous) this.unindex(previous);
    this.reports.set(summary.key, summary);
    this.index(summary);
    if (mode === 'state') return NO_CHANGE;
    if (!previous) {
      // A report seen for the first time is state; an Event is itself an occurrence.
      return summary.occurrence ? { ...limitNews(findings), occurrence: true } : NO_CHANGE;
    }
    const before = new Set(previous.ids);
    const fresh = findings.filter((f) => !before.has(f.id));
    const after = new Set(summary.ids);
    const resolved = previous.occurrence ? [] : previous.ids.filter((id) => !after.has(id));
    return { ...limitNews(fresh.sort(bySeverity)), resolved, ...(summary.occurrence ? { occurrence: true } : {}) };
  }

  /**
   * Removes a report by its object's kind (a constraint's own kind), namespace and name. Its findings do
   * not resolve: trivy-operator rescans by deleting and recreating reports, so a deleted report says
   * "not known now", not "fixed" (the alert resolves after its quiet period like any other).
   */
  delete(kind: string, namespace: string | undefined, name: string, _mode: ArrivalMode): FindingChange {
    const key = `${kind}/${namespace ?? ''}/${name}`;
    const previous = this.reports.get(key);
    if (!previous) return NO_CHANGE;
    this.unindex(previous);
    this.reports.delete(key);
    return previous.occurrence ? NO_CHANGE : { ...NO_CHANGE, released: [...previous.ids] };
  }

  /** Findings about a pod, its owners (by the names its ownerReferences give) and their workloads. */
  forPod(namespace: string, name: string, owners: readonly { kind: string; name: string }[] = []): PodFindings {
    const refs: ResourceRef[] = [{ kind: 'Pod', namespace, name }];
    for (const owner of owners) {
      refs.push({ kind: owner.kind, namespace, name: owner.name });
      const parent = workloadOf(owner);
      if (parent) refs.push({ ...parent, namespace });
    }
    return this.collect(refs);
  }

  /** Every resource with failing findings, for the API (not a per-alert path). */
  workloads(limit = 1000): WorkloadFindings[] {
    const out: WorkloadFindings[] = [];
    for (const key of [...this.byResource.keys()].sort()) {
      if (out.length >= limit) break;
      const [kind, namespace, ...rest] = key.split('/');
      const resource: ResourceRef = { kind: kind as string, name: rest.join('/'), ...(namespace ? { namespace } : {}) };
      const found = this.collect([resource]);
      if (found.vulnerabilities.length === 0 && found.policyFailing === 0) continue;
      out.push({ resource, ...found });
    }
    return out;
  }

  size(): { reports: number; dropped: number } {
    return { reports: this.reports.size, dropped: this.dropped };
  }

  private collect(refs: ResourceRef[]): PodFindings {
    const seen = new Set<string>();
    const vulnerabilities: ImageVulnerabilities[] = [];
    const policy: Finding[] = [];
    let policyFailing = 0;
    for (const ref of refs) {
      for (const reportKey of this.byResource.get(resourceKey(ref)) ?? []) {
        if (seen.has(reportKey)) continue;
        seen.add(reportKey);
        const report = this.reports.get(reportKey) as ReportSummary;
        if (report.kind === 'VulnerabilityReport') {
          vulnerabilities.push({
            ...(report.container ? { container: report.container } : {}),
            image: report.image ?? '',
            counts: report.counts,
            fixable: report.fixable,
            top: report.top,
          });
          continue;
        }
        if (report.kind === 'RbacAssessmentReport') continue;
        if (report.subject) {
          policy.push(...report.top);
          policyFailing += report.failing;
          continue;
        }
        // A report about many resources (a constraint, an unscoped ClusterPolicyReport): only theirs.
        for (const f of report.top) {
          if (!refs.some((r) => sameRef(r, f.resource))) continue;
          policy.push(f);
          policyFailing++;
        }
      }
    }
    policy.sort(bySeverity);
    return { vulnerabilities, policy: policy.slice(0, MAX_TOP), policyFailing };
  }

  /** A report is found under its subject (trivy labels, a PolicyReport's scope) and every resource its findings name. */
  private resourceKeys(report: ReportSummary): Set<string> {
    const keys = new Set<string>();
    if (report.subject) keys.add(resourceKey(report.subject));
    for (const f of report.top) keys.add(resourceKey(f.resource));
    return keys;
  }

  private index(report: ReportSummary): void {
    for (const k of this.resourceKeys(report)) {
      let set = this.byResource.get(k);
      if (!set) this.byResource.set(k, (set = new Set()));
      set.add(report.key);
    }
  }

  private unindex(report: ReportSummary): void {
    for (const k of this.resourceKeys(report)) {
      const set = this.byResource.get(k);
      set?.delete(report.key);
      if (set?.size === 0) this.byResource.delete(k);
    }
  }
}

/** A live list normalises page by page (the full reports are not held); what it hands on is this. */
function isNormalised(raw: unknown): raw is Normalised {
  return typeof raw === 'object' && raw !== null && NORMALISED in raw;
}

/** Marks an already normalised object (see normaliseForQueue). */
const NORMALISED = Symbol('normalised');

/** Normalises now and returns a small object the store (and an informer cache) can hold instead. */
export function normaliseForQueue(raw: unknown): (Normalised & { metadata: Record<string, unknown> }) | undefined {
  const normalised = normaliseFindingObject(raw);
  if (!normalised) return undefined;
  const meta = (raw as { metadata: Record<string, unknown> }).metadata;
  const identity: Record<string, unknown> = {};
  for (const k of ['name', 'namespace', 'resourceVersion']) if (typeof meta[k] === 'string') identity[k] = meta[k];
  return Object.assign(normalised, { metadata: identity, [NORMALISED]: true });
}

function limitNews(findings: Finding[]): FindingChange {
  return {
    news: findings.slice(0, MAX_NEWS_PER_CHANGE),
    newsDropped: Math.max(0, findings.length - MAX_NEWS_PER_CHANGE),
    resolved: [],
  };
}

/**
 * The workload behind a controller-made owner: a ReplicaSet `<deployment>-<hash>` belongs to its
 * Deployment, a Job `<cronjob>-<schedule time>` to its CronJob. Kyverno reports on both levels.
 */
function workloadOf(owner: { kind: string; name: string }): { kind: string; name: string } | undefined {
  const cut = owner.name.lastIndexOf('-');
  if (cut <= 0) return undefined;
  if (owner.kind === 'ReplicaSet') return { kind: 'Deployment', name: owner.name.slice(0, cut) };
  if (owner.kind === 'Job' && /^\d+$/.test(owner.name.slice(cut + 1))) return { kind: 'CronJob', name: owner.name.slice(0, cut) };
  return undefined;
}

function resourceKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

function sameRef(a: ResourceRef, b: ResourceRef): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}
