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
}

/** Enrichment attached to an alert; each part is optional and says when state was unknown. */
export interface Enrichment {
  subject?: unknown;
  pod?: unknown;
  network?: unknown;
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
  count: number;
  firstSeen: number;
  lastSeen: number;
}
