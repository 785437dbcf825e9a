import type { Alert, Detection } from '../../src/core/alert';
import type { SecurityEvent } from '../../src/core/event';
import { normaliseFalco } from '../../src/ingest/falco';
import { falcoEvent } from './events';

export function falcoSecurityEvent(overrides: Record<string, unknown> = {}, receivedAt = 0): SecurityEvent {
  return normaliseFalco(JSON.parse(JSON.stringify(falcoEvent(overrides))), { cluster: 'prod', receivedAt, maxFieldLength: 4096 });
}

export function detectionOf(event: SecurityEvent): Detection {
  return {
    rule: event.falco!.rule,
    ruleId: event.falco!.rule,
    priority: event.falco!.priority,
    source: 'falco',
    tags: event.falco!.tags,
    summary: event.falco!.output,
    event,
  };
}

export function alertOf(event: SecurityEvent, overrides: Partial<Alert> = {}): Alert {
  const d = detectionOf(event);
  return {
    fingerprint: 'fp-1',
    rule: d.rule,
    ruleId: d.ruleId,
    priority: d.priority,
    source: d.source,
    tags: d.tags,
    summary: d.summary,
    runbookUrl: 'https://runbooks.example.com/terminal-shell-in-container',
    labels: {},
    evidence: [event.id],
    event,
    enrichment: {},
    count: 1,
    firstSeen: 0,
    lastSeen: 0,
    ...overrides,
  };
}
