import type { Alert, Detection } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import type { JsonObject, SecurityEvent } from '../core/event';
import type { ClusterState } from '../enrich/cluster-state/state';
import { digestText, DRIFT_RULES, postureDrift, type Drift } from './drift';
import { buildPosture, type PostureReport } from './report';
import { nextRun, type Schedule } from './schedule';

export interface PostureServiceOptions {
  /** The state of a cluster, if Falconer holds one (snapshot, audit stream, live). */
  state: (cluster: string) => ClusterState | undefined;
  /** The cluster drift and the digest are about. */
  cluster: string;
  clock: Clock;
  /** At most one rebuild per cluster this often: between rebuilds the last report is served, marked stale. */
  minRebuildMs: number;
  /** How often posture is compared with the last evaluation; 0: no drift alerts. */
  driftIntervalMs: number;
  /** False while the state is still being filled (a live source's first list): no drift baseline from a partial state. */
  ready?: () => boolean;
  /** Hands a drift detection to the alert stage, like any other detection. */
  raise?: (detection: Detection) => Promise<unknown>;
  /** Recent alerts, to leave out drift the rule pack already reported. */
  recentAlerts?: () => readonly Alert[];
  digest?: { schedule: Schedule; timeZone: string; send: (alert: Alert) => Promise<void> };
  onError?: (what: string, err: unknown) => void;
}

export interface ServedReport {
  report: PostureReport;
  /** The state changed since it was built; a fresh one is built once `minRebuildMs` has passed. */
  stale: boolean;
}

interface Cached {
  state: ClusterState;
  revision: number;
  report: PostureReport;
}

/**
 * Posture as the running service keeps it: a report per cluster, rebuilt on a state change at most once
 * per `minRebuildMs` (a report is a full pass over the state, so its CPU is bounded by that rate); drift
 * between evaluations raised as alerts; and the scheduled digest.
 */
export class PostureService {
  private readonly cache = new Map<string, Cached>();
  private driftBaseline?: PostureReport;
  private lastEvaluation = 0;
  private lastDigest?: PostureReport;
  private driftTimer?: TimerHandle;
  private digestTimer?: TimerHandle;
  private stopped = false;

  constructor(private readonly options: PostureServiceOptions) {}

  /** The report of a cluster (all areas), or undefined when Falconer holds no state for it. */
  report(cluster = this.options.cluster): ServedReport | undefined {
    const state = this.options.state(cluster);
    if (!state) return undefined;
    const cached = this.cache.get(cluster);
    const now = this.options.clock.now();
    if (cached && cached.state === state && cached.revision === state.revision()) return { report: cached.report, stale: false };
    if (cached && now - cached.report.generatedAt < this.options.minRebuildMs) return { report: cached.report, stale: true };
    const revision = state.revision();
    const report = buildPosture(state, { now });
    this.cache.set(cluster, { state, revision, report });
    return { report, stale: false };
  }

  start(): void {
    // The first evaluation, right away, takes the state as loaded at start-up as the baseline.
    if (this.options.driftIntervalMs > 0 && this.options.raise) this.scheduleDrift(0);
    if (this.options.digest) this.scheduleDigest();
  }

  stop(): void {
    this.stopped = true;
    if (this.driftTimer) this.options.clock.clearTimeout(this.driftTimer);
    if (this.digestTimer) this.options.clock.clearTimeout(this.digestTimer);
  }

  /** One drift evaluation (the timer calls it; tests may too). Resolves once its alerts are handed off. */
  async evaluateDrift(): Promise<Drift[]> {
    const since = this.lastEvaluation;
    this.lastEvaluation = this.options.clock.now();
    const state = this.options.state(this.options.cluster);
    if (!state || state.isEmpty() || (this.options.ready && !this.options.ready())) return [];
    const served = this.report();
    if (!served || served.stale) return [];
    const before = this.driftBaseline;
    this.driftBaseline = served.report;
    if (!before || before === served.report) return [];
    const raised: Drift[] = [];
    for (const drift of postureDrift(before, served.report)) {
      if (this.alreadyAlerted(drift, since)) continue;
      await this.options.raise?.(driftDetection(drift, this.options.cluster, this.options.clock.now()));
      raised.push(drift);
    }
    return raised;
  }

  /** Builds and sends one digest (the schedule calls it; tests may too). */
  async sendDigest(): Promise<void> {
    const digest = this.options.digest;
    const served = this.report();
    if (!digest || !served) return;
    const text = digestText(this.lastDigest, served.report);
    await digest.send(digestAlert(text, this.options.cluster, this.options.clock.now()));
    this.lastDigest = served.report;
  }

  private scheduleDrift(delayMs = this.options.driftIntervalMs): void {
    if (this.stopped) return;
    this.driftTimer = this.options.clock.setTimeout(() => {
      this.evaluateDrift()
        .catch((err: unknown) => this.options.onError?.('posture drift', err))
        .finally(() => this.scheduleDrift());
    }, delayMs);
  }

  private scheduleDigest(): void {
    const digest = this.options.digest;
    if (this.stopped || !digest) return;
    const now = this.options.clock.now();
    const at = nextRun(digest.schedule, digest.timeZone, now);
    this.digestTimer = this.options.clock.setTimeout(() => {
      this.sendDigest()
        .catch((err: unknown) => this.options.onError?.('posture digest', err))
        .finally(() => this.scheduleDigest());
    }, at - now);
  }

  /** The rule pack's own alert on the same object since the last evaluation makes the drift a repeat. */
  private alreadyAlerted(drift: Drift, since: number): boolean {
    const { ruleId } = DRIFT_RULES[drift.kind];
    for (const alert of this.options.recentAlerts?.() ?? []) {
      if (alert.ruleId !== ruleId || alert.lastSeen < since || alert.event.audit?.stage === DRIFT_STAGE) continue;
      const ref = alert.event.audit?.objectRef;
      if (drift.kind === 'enforce-lowered' && ref?.name === drift.namespace) return true;
      if (drift.kind === 'default-deny-lost' && ref?.namespace === drift.namespace) return true;
      if (drift.kind === 'new-cluster-admin' && ref?.name === drift.object.name) return true;
    }
    return false;
  }
}

const DRIFT_STAGE = 'PostureDrift';
const RESOURCE: Record<string, string> = {
  Namespace: 'namespaces',
  ClusterRoleBinding: 'clusterrolebindings',
  RoleBinding: 'rolebindings',
};

function syntheticEvent(
  id: string,
  cluster: string,
  now: number,
  namespace: string | undefined,
  extra: Partial<SecurityEvent>,
  raw: JsonObject,
): SecurityEvent {
  return {
    id,
    source: 'k8s_audit',
    time: new Date(now).toISOString(),
    timeNs: `${BigInt(now) * 1_000_000n}`,
    receivedAt: now,
    k8s: { cluster, ...(namespace ? { namespace } : {}) },
    raw,
    ...extra,
  };
}

/** A drift as a detection of the rule-pack rule it belongs to (same id, name and runbook). */
export function driftDetection(drift: Drift, cluster: string, now: number): Detection {
  const { ruleId, rule } = DRIFT_RULES[drift.kind];
  const id = `posture-drift/${drift.kind}/${drift.object.kind}/${drift.object.namespace ?? ''}/${drift.object.name}/${now}`;
  const objectRef = {
    resource: RESOURCE[drift.object.kind] ?? drift.object.kind.toLowerCase(),
    name: drift.object.name,
    ...(drift.kind === 'default-deny-lost' && drift.namespace ? { namespace: drift.namespace } : {}),
  };
  const event = syntheticEvent(
    id,
    cluster,
    now,
    drift.namespace,
    { audit: { auditID: id, stage: DRIFT_STAGE, verb: 'drift', requestURI: '', objectRef, annotations: {} } },
    { kind: 'PostureDrift', drift: drift.kind, summary: drift.summary, object: { ...drift.object } },
  );
  return {
    rule,
    ruleId,
    priority: 'warning',
    source: 'k8s_audit',
    tags: ['k8s', 'posture-drift'],
    summary: `Posture drift: ${drift.summary}`,
    runbook: `docs/runbooks/${ruleId}.md`,
    event,
  };
}

function digestAlert(text: string, cluster: string, now: number): Alert {
  const id = `posture-digest/${cluster}/${now}`;
  const event = syntheticEvent(id, cluster, now, undefined, {}, { kind: 'PostureDigest' });
  return {
    fingerprint: `posture-digest-${cluster}-${now}`,
    rule: 'Posture Digest',
    ruleId: 'posture-digest',
    priority: 'informational',
    source: 'k8s_audit',
    tags: ['posture'],
    summary: text,
    runbookUrl: '',
    labels: { rule: 'Posture Digest', cluster },
    evidence: [id],
    event,
    enrichment: {},
    count: 1,
    firstSeen: now,
    lastSeen: now,
  };
}
