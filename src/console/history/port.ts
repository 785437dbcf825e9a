import type { Alert } from '../../core/alert';
import type { Evidence } from '../evidence';
import type { StoredRow } from '../row';

/** The bounds every history adapter keeps (config `console.history.*`). */
export interface HistoryBounds {
  maxAlerts: number;
  maxBytes: number;
  maxAgeMs: number;
  evidencePerAlert: number;
  /** A raw event longer than this as JSON is shown cut (`evidenceText`). */
  evidenceMaxBytes: number;
}

/** One occurrence or change of an alert, as the console records it. */
export interface HistoryRecord {
  stored: StoredRow;
  /**
   * The alert as it stands at the call: the history keeps what `GET /v1/console/alerts/:fingerprint`
   * shows of it (`alertView`) before the call returns, since the alert's own fields change later.
   */
  alert: Alert;
  /** The occurrences since the last record, oldest first, whose raw events are the evidence; one with the id of the last one kept is not kept again. */
  evidence?: readonly Evidence[];
}

export interface HistoryEntry {
  stored: StoredRow;
  /** `alertViewJson` of the alert as last recorded. */
  detail: string;
  /** Raw events as JSON (`evidenceText`), oldest first. */
  evidence: string[];
}

/** Why entries left the history. */
export interface Evictions {
  count: number;
  bytes: number;
  age: number;
}

export interface RecordResult {
  created: boolean;
  evicted: Evictions;
  /** The history's size after the record. */
  count: number;
  bytes: number;
}

export interface ScanPage {
  /** Newest first by last occurrence; `cursor` is where a later scan picks up after that row. */
  items: { stored: StoredRow; cursor: string }[];
  /** No rows past the last one. */
  done: boolean;
}

/**
 * The console's bounded alert history: kept by count, bytes and age, newest (by last occurrence)
 * first. In process memory in embedded mode, in Redis when replicas share it.
 */
export interface ConsoleHistory {
  /** Stores or replaces the alert's row; says whether it was new and what was evicted to make room. */
  record(record: HistoryRecord): Promise<RecordResult>;
  /** `record` at once, for a history in this process (no promise and no turn per alert). */
  recordSync?(record: HistoryRecord): RecordResult;
  get(fingerprint: string): Promise<HistoryEntry | undefined>;
  /** Up to `limit` rows after `cursor` (from the newest without one). Rows past the age bound are not listed. */
  scan(cursor: string | undefined, limit: number): Promise<ScanPage>;
  size(): Promise<{ count: number; bytes: number }>;
}

/** Estimated bytes of a record as the memory history holds it: the row's, the detail's and the evidence's estimates and a fixed overhead per row. */
export function entryBytes(rowJsonLength: number, detailBytes: number, evidenceBytes: number): number {
  return ROW_OVERHEAD + rowJsonLength + detailBytes + evidenceBytes;
}

const ROW_OVERHEAD = 256;

export const NO_EVICTIONS: Evictions = Object.freeze({ count: 0, bytes: 0, age: 0 });
