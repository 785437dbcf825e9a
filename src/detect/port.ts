import type { Detection, Enrichment } from '../core/alert';
import type { SecurityEvent } from '../core/event';

/**
 * The detect stage: turns one event into zero or more detections. Pure and synchronous so it can
 * run in the pipeline, in `falconer replay` and in rule fixtures alike. Must never throw on a bad
 * event: evaluation errors are counted and the rule is treated as not matching.
 */
export interface Detector {
  detect(event: SecurityEvent): Detection[];
  /**
   * Applies the rules that wait for the enrichment (a detection with `pending` rule ids). Called only
   * for such detections; must never throw.
   */
  escalate?(detection: Detection, enrichment: Enrichment): Detection;
}
