import { EVIDENCE_RAW_BYTES } from '../../alert/evidence';
import type { Alert } from '../../core/alert';
import { detailJson, estimateJsonLength, lazyDetail } from '../detail';
import { evidenceText, type Evidence } from '../evidence';
import type { StoredRow } from '../row';
import {
  entryBytes,
  type ConsoleHistory,
  type Evictions,
  type HistoryBounds,
  type HistoryEntry,
  type HistoryRecord,
  type RecordResult,
  type ScanPage,
} from './port';

/** The newest evidence event, kept as its payload until a newer one comes. */
interface Unwritten extends Pick<Evidence, 'id' | 'raw'> {
  /** `estimateJsonLength(raw)`. */
  bytes: number;
}

interface Entry {
  stored: StoredRow;
  /** The alert as recorded (`lazyDetail`'s copy): its detail is written when read. */
  detail: Alert;
  /** Oldest first; the newest may still be its event (see `recordSync`). */
  evidence: (string | Unwritten)[];
  lastEvidenceId: string | undefined;
  bytes: number;
  /** Position in `log`. */
  pos: number;
  seq: number;
}

/**
 * The history in process memory (embedded mode). Entries sit in an append-only log in the order of
 * their last occurrence: an occurrence moves its entry to the end (its old slot goes empty), a change
 * without one (attribution, resolve) replaces it in place. Listing newest first walks the log
 * backwards from a cursor (a sequence number, found by binary search), so a page costs its own rows,
 * not a sort of the store; evictions take from the front. Empty slots are compacted away once they
 * outnumber the live ones.
 */
export class MemoryConsoleHistory implements ConsoleHistory {
  private readonly byFingerprint = new Map<string, Entry>();
  private log: (Entry | undefined)[] = [];
  private seqs: number[] = [];
  private head = 0;
  private nextSeq = 1;
  private bytes = 0;

  constructor(
    private readonly bounds: HistoryBounds,
    private readonly now: () => number,
  ) {}

  record(record: HistoryRecord): Promise<RecordResult> {
    return Promise.resolve(this.recordSync(record));
  }

  /** `record`, synchronously (the bench and the app's feed use it directly). */
  recordSync({ stored, alert, evidence }: HistoryRecord): RecordResult {
    const lazy = lazyDetail(alert);
    const detail = lazy.copy;
    const fp = stored.row.fingerprint;
    const existing = this.byFingerprint.get(fp);
    const kept = existing ? existing.evidence : [];
    let lastId = existing?.lastEvidenceId;
    const max = this.bounds.evidenceMaxBytes;
    for (const e of evidence ?? []) {
      if (e.id === lastId || this.bounds.evidencePerAlert === 0) continue;
      // The newest occurrence's payload is the detail's event's (a Falco event's fields are the same
      // object), so it is kept as it is and written when read or when a newer one comes; older ones
      // are text. So is a payload the alert stage cut (evidenceOf): a copy nothing else holds.
      const last = kept.at(-1);
      if (last !== undefined && typeof last !== 'string') kept[kept.length - 1] = evidenceText(last, max);
      if ((e.sizeBytes ?? Infinity) <= EVIDENCE_RAW_BYTES) kept.push({ id: e.id, raw: e.raw, bytes: estimateJsonLength(e.raw) });
      else kept.push(evidenceText(e, max));
      lastId = e.id;
    }
    if (kept.length > this.bounds.evidencePerAlert) kept.splice(0, kept.length - this.bounds.evidencePerAlert);
    let evidenceBytes = 0;
    for (const e of kept) evidenceBytes += typeof e === 'string' ? e.length : e.bytes;
    const bytes = entryBytes(rowLength(stored), lazy.bytes, evidenceBytes);
    if (existing) {
      this.bytes += bytes - existing.bytes;
      const moved = stored.lastSeenMs !== existing.stored.lastSeenMs;
      existing.stored = stored;
      existing.detail = detail;
      existing.bytes = bytes;
      existing.lastEvidenceId = lastId;
      if (moved) {
        this.log[existing.pos] = undefined;
        this.append(existing);
      }
    } else {
      const entry: Entry = { stored, detail, evidence: kept, lastEvidenceId: lastId, bytes, pos: 0, seq: 0 };
      this.byFingerprint.set(fp, entry);
      this.bytes += bytes;
      this.append(entry);
    }
    const evicted = this.evict();
    this.compact();
    return { created: !existing, evicted, count: this.byFingerprint.size, bytes: this.bytes };
  }

  get(fingerprint: string): Promise<HistoryEntry | undefined> {
    const e = this.byFingerprint.get(fingerprint);
    if (!e || this.expired(e)) return Promise.resolve(undefined);
    return Promise.resolve({
      stored: e.stored,
      detail: detailJson(e.detail),
      evidence: e.evidence.map((x) => (typeof x === 'string' ? x : evidenceText(x, this.bounds.evidenceMaxBytes))),
    });
  }

  scan(cursor: string | undefined, limit: number): Promise<ScanPage> {
    return Promise.resolve(this.scanSync(cursor, limit));
  }

  scanSync(cursor: string | undefined, limit: number): ScanPage {
    let i = cursor === undefined ? this.log.length - 1 : this.before(Number(cursor));
    const items: ScanPage['items'] = [];
    const oldest = this.now() - this.bounds.maxAgeMs;
    for (; i >= this.head && items.length < limit; i--) {
      const e = this.log[i];
      if (!e) continue;
      if (e.stored.lastSeenMs < oldest) return { items, done: true };
      items.push({ stored: e.stored, cursor: String(e.seq) });
    }
    return { items, done: i < this.head };
  }

  size(): Promise<{ count: number; bytes: number }> {
    return Promise.resolve({ count: this.byFingerprint.size, bytes: this.bytes });
  }

  private expired(e: Entry): boolean {
    return e.stored.lastSeenMs < this.now() - this.bounds.maxAgeMs;
  }

  private append(e: Entry): void {
    e.seq = this.nextSeq++;
    e.pos = this.log.length;
    this.log.push(e);
    this.seqs.push(e.seq);
  }

  /** The index of the last slot whose sequence number is below `seq` (-1: none). */
  private before(seq: number): number {
    if (!Number.isFinite(seq)) return -1;
    let lo = this.head;
    let hi = this.seqs.length - 1;
    let found = this.head - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private evict(): Evictions {
    const evicted: Evictions = { count: 0, bytes: 0, age: 0 };
    const oldest = this.now() - this.bounds.maxAgeMs;
    while (this.head < this.log.length) {
      const e = this.log[this.head];
      if (!e) {
        this.head++;
        continue;
      }
      let reason: keyof Evictions | undefined;
      if (e.stored.lastSeenMs < oldest) reason = 'age';
      else if (this.byFingerprint.size > this.bounds.maxAlerts) reason = 'count';
      else if (this.bytes > this.bounds.maxBytes) reason = 'bytes';
      if (!reason) break;
      evicted[reason]++;
      this.byFingerprint.delete(e.stored.row.fingerprint);
      this.bytes -= e.bytes;
      this.log[this.head++] = undefined;
    }
    return evicted;
  }

  private compact(): void {
    const live = this.byFingerprint.size;
    if (this.log.length < 1024 || this.log.length < 2 * live + 1024) return;
    const log: Entry[] = [];
    for (let i = this.head; i < this.log.length; i++) {
      const e = this.log[i];
      if (e) {
        e.pos = log.length;
        log.push(e);
      }
    }
    this.log = log;
    this.seqs = log.map((e) => e.seq);
    this.head = 0;
  }
}

/** The row's share of an entry's bytes: its strings, roughly as JSON would spell them. */
function rowLength(s: StoredRow): number {
  const r = s.row;
  let n = r.fingerprint.length + r.rule.length + r.summary.length + r.cluster.length + r.namespace.length;
  n += r.pod.length + r.container.length + r.user.length + s.command.length + 100;
  for (const t of r.tags) n += t.length + 3;
  for (const k in s.labels) n += k.length + s.labels[k]!.length + 6;
  return n;
}
