import type { Attribution, Detection, Enrichment } from '../core/alert';
import type { Correlator } from '../correlate/correlator';
import type { Incident, IncidentTracker } from '../correlate/incidents';
import type { Enricher } from '../enrich/port';
import type { Json, JsonObject, SecurityEvent } from '../core/event';
import type { Priority } from '../core/priority';
import { fingerprint } from '../alert/fingerprint';
import { normaliseAudit, splitAuditPayload } from '../ingest/audit';
import { normaliseFalco } from '../ingest/falco';
import { parseJson } from '../ingest/json';
import type { NormaliseContext } from '../ingest/normalise';
import type { Detector } from './port';

/** One deduplicated alert as `falconer replay` prints it. */
export interface ReplayAlert {
  kind: 'alert';
  rule: string;
  ruleId: string;
  priority: Priority;
  source: string;
  fingerprint: string;
  count: number;
  /** The first event's id, then the latest ones (bounded). */
  evidence: string[];
  firstSeen: string;
  lastSeen: string;
  summary: string;
  tags: string[];
  runbook?: string;
  /** With `--enrich`: who did it, the pod's posture and exposure, as the state stood at the end of the replay. */
  enrichment?: Enrichment;
  /** Runtime alerts: who opened the session (against every session in the replay). */
  attribution?: Attribution;
  incident?: string;
}

/** One incident as `falconer replay` prints it. */
export interface ReplayIncident {
  kind: 'incident';
  id: string;
  severity: string;
  chain: string | null;
  alerts: string[];
  pods: string[];
  subjects: string[];
  firstTime: string;
  lastTime: string;
  timeline: { time: string; source: string; rule: string; fingerprint: string; priority: string; user?: string; pod?: string }[];
}

export interface ReplayStats {
  events: number;
  /** Lines or items that were not JSON, or not a valid audit or Falco event. */
  skipped: number;
  /** Events seen twice (same audit ID and stage, or same Falco uuid), as apiserver retries produce. */
  duplicates: number;
  detections: number;
}

const EVIDENCE_LIMIT = 10;

export type ReplayKind = 'k8s_audit' | 'falco';

/** Tells audit events from Falco events by their content. */
export function classify(value: Json): ReplayKind | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (typeof value.auditID === 'string' && typeof value.stage === 'string') return 'k8s_audit';
  if (typeof value.rule === 'string' && 'priority' in value && ('output' in value || 'output_fields' in value)) return 'falco';
  return undefined;
}

/**
 * The events in one file: a JSON document (EventList, Event, Falco event or an array of them) or JSON
 * lines (an apiserver --audit-log-path file, Falco's json_output), decided by content. Malformed parts
 * are counted and skipped, never fatal.
 */
export function* eventsInText(text: string, maxDepth = 128): Generator<Json | undefined> {
  let whole: Json | undefined;
  try {
    whole = parseJson(text, { maxDepth });
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) {
    if (classify(whole) === 'falco') yield whole;
    else {
      let items: Json[];
      try {
        items = splitAuditPayload(whole);
      } catch {
        yield undefined;
        return;
      }
      yield* items;
    }
    return;
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      yield parseJson(line, { maxDepth });
    } catch {
      yield undefined;
    }
  }
}

/**
 * Runs recorded events through detection and deduplicates alerts by fingerprint, in first-seen order.
 * Sends nothing anywhere.
 */
export class Replay {
  readonly stats: ReplayStats = { events: 0, skipped: 0, duplicates: 0, detections: 0 };
  private alerts = new Map<string, ReplayAlert>();
  private latest = new Map<string, Detection>();
  private first = new Map<string, Detection>();
  private events: SecurityEvent[] = [];
  private seen = new Set<string>();

  /** With an enricher, every event also feeds its cluster state (audit events carry the objects). */
  constructor(
    private readonly detector: Detector,
    private readonly ctx: NormaliseContext,
    private readonly enricher?: Enricher,
  ) {}

  add(value: Json | undefined): void {
    const kind = value === undefined ? undefined : classify(value);
    if (!kind) {
      this.stats.skipped++;
      return;
    }
    let event: SecurityEvent;
    try {
      event = kind === 'k8s_audit' ? normaliseAudit(value!, this.ctx) : normaliseFalco(value as JsonObject, this.ctx);
    } catch {
      this.stats.skipped++;
      return;
    }
    if (this.seen.has(event.id)) {
      this.stats.duplicates++;
      return;
    }
    this.seen.add(event.id);
    this.stats.events++;
    this.events.push(event);
    this.enricher?.observe(event);
    for (const d of this.detector.detect(event)) this.record(d);
  }

  private record(d: Detection): void {
    this.stats.detections++;
    const fp = fingerprint(d);
    this.latest.set(fp, d);
    const existing = this.alerts.get(fp);
    if (!existing) {
      this.first.set(fp, d);
      this.alerts.set(fp, {
        kind: 'alert',
        rule: d.rule,
        ruleId: d.ruleId,
        priority: d.priority,
        source: d.source,
        fingerprint: fp,
        count: 1,
        evidence: [d.event.id],
        firstSeen: d.event.time,
        lastSeen: d.event.time,
        summary: d.summary,
        tags: d.tags,
        runbook: d.runbook,
      });
      return;
    }
    existing.count++;
    existing.lastSeen = d.event.time;
    existing.summary = d.summary;
    existing.evidence.push(d.event.id);
    if (existing.evidence.length > EVIDENCE_LIMIT) existing.evidence.splice(1, 1); // keep the first
  }

  results(): ReplayAlert[] {
    return [...this.alerts.values()];
  }

  /** The alerts with the enrichment of each one's latest detection, against the state after the replay. */
  async enrichedResults(): Promise<ReplayAlert[]> {
    const enricher = this.enricher;
    if (!enricher) return this.results();
    return Promise.all(
      this.results().map(async (a) => {
        const latest = this.latest.get(a.fingerprint)!;
        const enrichment = await enricher.enrich(latest);
        if (!latest.pending) return { ...a, enrichment };
        // Rules with an `enrichment:` condition amend here, as the pipeline does after its enrich stage.
        const d = this.detector.escalate?.(latest, enrichment) ?? latest;
        return { ...a, priority: d.priority, tags: d.tags, runbook: d.runbook, enrichment };
      }),
    );
  }

  /**
   * Attribution and incidents, from event time only: every session in the replay is known first (as a
   * late audit event would update the alert in place), then each alert's first occurrence joins its
   * incident in event-time order. Deterministic: the same files give the same lines.
   */
  async correlate(
    correlator: Correlator,
    incidents: IncidentTracker | undefined,
  ): Promise<{ alerts: ReplayAlert[]; incidents: ReplayIncident[] }> {
    for (const event of this.events) await correlator.observe(event);
    const alerts = await this.enrichedResults();
    const order = alerts
      .map((a) => ({ a, d: this.first.get(a.fingerprint)! }))
      .sort((x, y) => compareNs(x.d.event.timeNs, y.d.event.timeNs));
    const ids = new Set<string>();
    for (const { a, d } of order) {
      const correlation = await correlator.correlate(d, a.enrichment ?? {});
      if (correlation.attribution) a.attribution = correlation.attribution;
      if (correlation.incident) {
        a.incident = correlation.incident.id;
        ids.add(correlation.incident.id);
      }
    }
    // An incident a later alert merged into an older one is printed as that one (its survivor).
    const byId = new Map<string, Incident>();
    for (const id of ids) {
      const incident = await incidents?.get(id);
      if (incident) byId.set(id, incident);
    }
    for (const a of alerts) if (a.incident) a.incident = byId.get(a.incident)?.id ?? a.incident;
    const found = [...new Map([...byId.values()].map((i) => [i.id, i])).values()];
    found.sort((x, y) => x.firstMs - y.firstMs || (x.id < y.id ? -1 : 1));
    return {
      alerts,
      incidents: found.map((i) => ({
        kind: 'incident',
        id: i.id,
        severity: i.severity,
        chain: i.chain,
        alerts: i.alerts,
        pods: i.pods,
        subjects: i.subjects,
        firstTime: i.firstTime,
        lastTime: i.lastTime,
        timeline: i.timeline.map((t) => ({
          time: t.time,
          source: t.source,
          rule: t.rule,
          fingerprint: t.fingerprint,
          priority: t.priority,
          ...(t.user ? { user: t.user } : {}),
          ...(t.pod ? { pod: t.pod } : {}),
        })),
      })),
    };
  }
}

function compareNs(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
