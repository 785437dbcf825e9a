import type { Alert } from '../core/alert';

/** Why an alert is not notified right now: the silences and the inhibiting alerts that mute it. */
export interface Suppression {
  silencedBy: string[];
  inhibitedBy: string[];
}

/**
 * Silences and inhibition together, asked before every notification (Alertmanager's inhibit → silence
 * stages). Both answer without a promise when their store keeps values in this process (embedded
 * mode), so an alert that nothing mutes makes none.
 */
export interface Suppressor {
  check(alert: Alert): Suppression | Promise<Suppression>;
  /** An occurrence: inhibit rules note their firing sources (called once per occurrence, before `check`). */
  observe?(alert: Alert): void | Promise<void>;
}

export function isSuppressed(s: Suppression): boolean {
  return s.silencedBy.length > 0 || s.inhibitedBy.length > 0;
}

export const NOT_SUPPRESSED: Suppression = Object.freeze({
  silencedBy: Object.freeze([]) as unknown as string[],
  inhibitedBy: Object.freeze([]) as unknown as string[],
});

type Ids = string[] | Promise<string[]>;

/** Silences (by label matchers) and inhibition (by other alerts), either optional. */
export function suppressor(parts: {
  silences?: { mutes(labels: Alert['labels']): Ids };
  inhibitor?: { inhibitedBy(alert: Alert): Ids; observe(alert: Alert): void | Promise<void> };
}): Suppressor {
  const { silences, inhibitor } = parts;
  return {
    observe: (alert) => inhibitor?.observe(alert),
    check(alert) {
      const silencedBy = silences ? silences.mutes(alert.labels) : NOT_SUPPRESSED.silencedBy;
      const inhibitedBy = inhibitor ? inhibitor.inhibitedBy(alert) : NOT_SUPPRESSED.inhibitedBy;
      if (silencedBy instanceof Promise || inhibitedBy instanceof Promise)
        return Promise.all([silencedBy, inhibitedBy]).then(([s, i]) => suppression(s, i));
      return suppression(silencedBy, inhibitedBy);
    },
  };
}

/** Nothing mutes it (nearly every alert): the one shared answer, no object per alert. */
function suppression(silencedBy: string[], inhibitedBy: string[]): Suppression {
  return silencedBy.length || inhibitedBy.length ? { silencedBy, inhibitedBy } : NOT_SUPPRESSED;
}
