import type { Alert, Detection, Enrichment } from '../core/alert';
import type { Clock } from '../core/clock';
import type { Metrics } from '../observability/metrics';
import type { StateStore } from '../store/port';
import type { Dispatcher } from '../notify/dispatcher';
import { evidenceOf } from './evidence';
import { fingerprint } from './fingerprint';
import type { RecentAlerts } from './recent';
import { runbookUrl } from './runbook';

export interface AlertStageOptions {
  dedupWindowMs: number;
  runbookUrlTemplate: string;
  runbooks: Readonly<Record<string, string>>;
}

const EVIDENCE_KEPT = 20;

/**
 * Turns detections into alerts: fingerprint, count in the shared dedup window, announce the first
 * occurrence, fold the rest into it (and refresh the announcement's count). `process` resolves once
 * the alert is durably handed to the dispatcher, so the event may then be committed.
 */
export class AlertStage {
  constructor(
    private readonly store: StateStore,
    private readonly recent: RecentAlerts,
    private readonly dispatcher: Dispatcher,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly options: AlertStageOptions,
  ) {}

  async process(detection: Detection, enrichment: Enrichment = {}): Promise<Alert> {
    const fp = fingerprint(detection);
    const counter = await this.store.hit(`dedup:${fp}`, this.clock.now(), this.options.dedupWindowMs);
    const previous = this.recent.get(fp);
    const evidence =
      previous && previous.firstSeen === counter.firstSeen
        ? [...previous.evidence.slice(-(EVIDENCE_KEPT - 1)), detection.event.id]
        : [detection.event.id];
    const alert: Alert = {
      fingerprint: fp,
      rule: detection.rule,
      ruleId: detection.ruleId,
      priority: detection.priority,
      source: detection.source,
      tags: detection.tags,
      summary: detection.summary,
      runbookUrl: runbookUrl(
        detection.rule,
        detection.ruleId,
        detection.runbook,
        this.options.runbookUrlTemplate,
        this.options.runbooks,
      ),
      labels: labelsOf(detection),
      evidence,
      event: evidenceOf(detection.event),
      enrichment,
      count: counter.count,
      firstSeen: counter.firstSeen,
      lastSeen: counter.lastSeen,
    };
    this.recent.put(alert);
    if (counter.count === 1) {
      this.metrics.alerts.inc({ rule: this.metrics.alertRuleLabel.value(alert.rule), priority: alert.priority });
    } else this.metrics.dedupSuppressed.inc();
    // Within the window that opened at firstSeen, every occurrence goes through the durable hand-off:
    // the dispatcher announces if no announcement was handed off yet (the replica that counted the
    // first occurrence may have died before handing it off) and refreshes otherwise. Past it, the
    // announcement's record may have expired while the counter lives on: refresh only.
    if (counter.count === 1 || this.clock.now() - counter.firstSeen < this.options.dedupWindowMs)
      await this.dispatcher.announce(alert);
    else this.dispatcher.refresh(alert);
    return alert;
  }
}

function labelsOf(d: Detection): Record<string, string> {
  const k = d.event.k8s;
  const labels: Record<string, string> = { rule: d.rule, priority: d.priority, source: d.source, cluster: k.cluster };
  if (k.namespace) labels.namespace = k.namespace;
  if (k.pod) labels.pod = k.pod;
  if (k.container) labels.container = k.container;
  if (d.event.actor?.user) labels.user = d.event.actor.user;
  return labels;
}
