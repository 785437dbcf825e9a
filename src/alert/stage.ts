import type { Alert, AlertIncident, Attribution, Detection, Enrichment } from '../core/alert';
import type { Clock } from '../core/clock';
import type { Metrics } from '../observability/metrics';
import type { StateStore } from '../store/port';
import type { Dispatcher } from '../notify/dispatcher';
import { evidenceOf } from './evidence';
import { fingerprint } from './fingerprint';
import { alertLabels } from './labels';
import type { RecentAlerts } from './recent';
import { runbookUrl } from './runbook';
import { isSuppressed, NOT_SUPPRESSED, type Suppression, type Suppressor } from './suppress';

export interface AlertStageOptions {
  dedupWindowMs: number;
  runbookUrlTemplate: string;
  runbooks: Readonly<Record<string, string>>;
  /** Silences and inhibition; nothing is muted without it. */
  suppressor?: Suppressor;
  /** With a routing tree: alerts go to their groups, whose timers notify (group.ts), instead of straight to the dispatcher. */
  grouper?: { add(alert: Alert): Promise<void> };
}

const EVIDENCE_KEPT = 20;
/** Runbook links remembered (by rule); far more than a rule pack and the rules Falco sends. */
const RUNBOOKS_KEPT = 1_000;

/** What the correlate stage adds: who opened the session, and how long the first announcement may wait for it. */
export interface AlertCorrelation {
  attribution?: Attribution;
  incident?: AlertIncident;
  holdMs?: number;
}

/**
 * Turns detections into alerts: fingerprint, count in the shared dedup window, announce the first
 * occurrence, fold the rest into it (and refresh the announcement's count). `process` resolves once
 * the alert is durably handed to the dispatcher, so the event may then be committed.
 */
export class AlertStage {
  private readonly runbooks = new Map<string, string>();

  constructor(
    private readonly store: StateStore,
    private readonly recent: RecentAlerts,
    private readonly dispatcher: Dispatcher,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly options: AlertStageOptions,
  ) {}

  async process(detection: Detection, enrichment: Enrichment = {}, correlation: AlertCorrelation = {}): Promise<Alert> {
    const fp = fingerprint(detection);
    const labels = alertLabels(detection, enrichment);
    addCorrelationLabels(labels, correlation);
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
      runbookUrl: this.runbookOf(detection),
      labels,
      evidence,
      event: evidenceOf(detection.event),
      enrichment,
      ...(correlation.attribution ? { attribution: correlation.attribution } : {}),
      ...(correlation.incident ? { incident: correlation.incident } : {}),
      count: counter.count,
      firstSeen: counter.firstSeen,
      lastSeen: counter.lastSeen,
    };
    const suppressed = this.suppression(alert);
    const suppression = suppressed instanceof Promise ? await suppressed : suppressed;
    if (suppression.silencedBy.length) alert.silencedBy = suppression.silencedBy;
    if (suppression.inhibitedBy.length) alert.inhibitedBy = suppression.inhibitedBy;
    this.recent.put(alert);
    if (this.options.grouper) {
      // The group keeps muted alerts too: its flush leaves them out, and still reports their resolve.
      if (isSuppressed(suppression))
        this.metrics.suppressed.inc({ reason: suppression.silencedBy.length ? 'silenced' : 'inhibited' });
      else if (counter.count > 1) this.metrics.dedupSuppressed.inc();
      if (counter.count === 1)
        this.metrics.alerts.inc({ rule: this.metrics.alertRuleLabel.value(alert.rule), priority: alert.priority });
      await this.options.grouper.add(alert);
      return alert;
    }
    if (isSuppressed(suppression)) {
      // Not handed off: the reconciler announces it if the mute lifts while it still fires, and a
      // receiver that was told before still hears the resolve.
      this.metrics.suppressed.inc({ reason: suppression.silencedBy.length ? 'silenced' : 'inhibited' });
      if (counter.count === 1)
        this.metrics.alerts.inc({ rule: this.metrics.alertRuleLabel.value(alert.rule), priority: alert.priority });
      return alert;
    }
    if (counter.count === 1)
      this.metrics.alerts.inc({ rule: this.metrics.alertRuleLabel.value(alert.rule), priority: alert.priority });
    else this.metrics.dedupSuppressed.inc();
    // Within the window that opened at firstSeen, every occurrence goes through the durable hand-off:
    // the dispatcher announces if no announcement was handed off yet (the replica that counted the
    // first occurrence may have died before handing it off) and refreshes otherwise. Past it, the
    // announcement's record may have expired while the counter lives on: refresh only.
    if (counter.count === 1 || this.clock.now() - counter.firstSeen < this.options.dedupWindowMs)
      await this.dispatcher.announce(alert, { holdMs: counter.count === 1 ? (correlation.holdMs ?? 0) : 0 });
    else this.dispatcher.refresh(alert);
    return alert;
  }

  /**
   * What mutes the alert. In embedded mode the suppressor answers in this turn (src/alert/suppress.ts),
   * so `process` awaits only a promise: an `await` of a plain value still costs a microtask turn.
   */
  private suppression(alert: Alert): Suppression | Promise<Suppression> {
    const suppressor = this.options.suppressor;
    if (!suppressor) return NOT_SUPPRESSED;
    const observed = suppressor.observe?.(alert);
    if (observed) return observed.then(() => suppressor.check(alert));
    return suppressor.check(alert);
  }

  /**
   * The runbook link, made once per rule (slugging and percent-encoding cost more than the lookup).
   * Falco names its own rules, so the memo is bounded: it starts over when full.
   */
  private runbookOf(d: Detection): string {
    const key = `${d.rule}\0${d.ruleId}\0${d.runbook ?? ''}`;
    let url = this.runbooks.get(key);
    if (url === undefined) {
      url = runbookUrl(d.rule, d.ruleId, d.runbook, this.options.runbookUrlTemplate, this.options.runbooks);
      if (this.runbooks.size >= RUNBOOKS_KEPT) this.runbooks.clear();
      this.runbooks.set(key, url);
    }
    return url;
  }

  /**
   * An alert changed after the fact (a late audit event attributed it, its incident grew): the
   * announcement is updated in place, or, while it is still held, sent with the change.
   */
  async amend(changed: Alert): Promise<void> {
    const current = this.recent.get(changed.fingerprint);
    const alert: Alert =
      current && current.firstSeen === changed.firstSeen
        ? { ...current, attribution: changed.attribution, incident: changed.incident ?? current.incident }
        : { ...changed };
    if (!alert.attribution) delete alert.attribution;
    if (!alert.incident) delete alert.incident;
    alert.labels = { ...withoutCorrelationLabels(alert.labels), ...correlationLabels(alert) };
    this.recent.put(alert);
    await this.dispatcher.amend(alert);
  }
}

/** The correlation labels routing matches on: `attributed_user`, `incident`, `chain`. */
export function correlationLabels(alert: AlertCorrelation): Record<string, string> {
  return addCorrelationLabels({}, alert);
}

/** `correlationLabels`, set on `labels` (an alert's own, just made) rather than copied in. */
function addCorrelationLabels(labels: Record<string, string>, alert: AlertCorrelation): Record<string, string> {
  if (alert.attribution?.user) labels.attributed_user = alert.attribution.user;
  if (alert.incident) {
    labels.incident = alert.incident.id;
    if (alert.incident.chain) labels.chain = alert.incident.chain;
  }
  return labels;
}

function withoutCorrelationLabels(labels: Record<string, string>): Record<string, string> {
  const { attributed_user: _u, incident: _i, chain: _c, ...rest } = labels;
  return rest;
}
