import type { Alert } from '../core/alert';

/** Why an alert is not notified right now: the silences and the inhibiting alerts that mute it. */
export interface Suppression {
  silencedBy: string[];
  inhibitedBy: string[];
}

/** Silences and inhibition together, asked before every notification (Alertmanager's inhibit → silence stages). */
export interface Suppressor {
  check(alert: Alert): Promise<Suppression>;
  /** An occurrence: inhibit rules note their firing sources (called once per occurrence, before `check`). */
  observe?(alert: Alert): Promise<void>;
}

export function isSuppressed(s: Suppression): boolean {
  return s.silencedBy.length > 0 || s.inhibitedBy.length > 0;
}

export const NOT_SUPPRESSED: Suppression = Object.freeze({ silencedBy: [], inhibitedBy: [] }) as Suppression;

/** Silences (by label matchers) and inhibition (by other alerts), either optional. */
export function suppressor(parts: {
  silences?: { mutes(labels: Alert['labels']): Promise<string[]> };
  inhibitor?: { inhibitedBy(alert: Alert): Promise<string[]>; observe(alert: Alert): Promise<void> };
}): Suppressor {
  return {
    observe: (alert) => parts.inhibitor?.observe(alert) ?? Promise.resolve(),
    async check(alert) {
      const [silencedBy, inhibitedBy] = await Promise.all([
        parts.silences ? parts.silences.mutes(alert.labels) : [],
        parts.inhibitor ? parts.inhibitor.inhibitedBy(alert) : [],
      ]);
      return { silencedBy, inhibitedBy };
    },
  };
}
