import type { Detection, Enrichment } from '../core/alert';
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
    this.enricher?.observe(event);
    for (const d of this.detector.detect(event)) this.record(d);
  }

  private record(d: Detection): void {
    this.stats.detections++;
    const fp = fingerprint(d);
    this.latest.set(fp, d);
    const existing = this.alerts.get(fp);
    if (!existing) {
      this.alerts.set(fp, {
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
      this.results().map(async (a) => ({ ...a, enrichment: await enricher.enrich(this.latest.get(a.fingerprint)!) })),
    );
  }
}
