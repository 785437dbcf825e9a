import type { Detection, Enrichment, SubjectEnrichment } from '../core/alert';
import type { SecurityEvent } from '../core/event';

/**
 * The enrich stage. `observe` sees every event first (audit events carry the objects that build
 * cluster state); `enrich` answers, for one detection, who the subject is and what it may do, how
 * the pod is configured and how exposed it is. It must never throw: unknown state is said, not guessed.
 * The answer is about the detection's event, not its rule: the pipeline asks once per event and
 * gives the answer to each of the event's detections (the enrichment object is not changed after).
 * Its parts are shared too: the alerts on one pod state get the same pod, network and subject objects
 * (the console serialises each once), so nothing may change a part once it is made.
 */
export interface Enricher {
  observe(event: SecurityEvent): void;
  enrich(detection: Detection): Promise<Enrichment>;
  /** The RBAC facts of a user the correlate stage attributed a runtime alert to. */
  subject?(cluster: string, user: string, groups: string[]): Promise<SubjectEnrichment>;
  /** How many `enrich` calls are waiting for state right now (a pod about to arrive). */
  waiting?(): number;
}

/** Enrichment switched off: every alert goes out with an empty enrichment. */
export const noEnrichment: Enricher = {
  observe() {},
  enrich: async () => ({}),
};
