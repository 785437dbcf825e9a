import type { Detection } from '../core/alert';
import type { SecurityEvent } from '../core/event';
import type { Detector } from './port';

/** Falco events already carry their rule and priority: each one is a detection as it stands. */
export const falcoPassthrough: Detector = {
  detect(event: SecurityEvent): Detection[] {
    const f = event.falco;
    if (!f) return [];
    return [
      {
        rule: f.rule,
        ruleId: f.rule,
        priority: f.priority,
        source: 'falco',
        tags: f.tags,
        summary: f.output,
        event,
      },
    ];
  },
};
