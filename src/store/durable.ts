import type { Clock } from '../core/clock';
import type { DataDir } from './data-dir';
import type { EmbeddedDatabase } from './embedded-db';
import { MemoryStateStore, type StoreChanges } from './memory';

/**
 * Expired rows deleted from the file per commit: at least this many, and twice the commit's writes, so
 * sweeping outpaces the writes that add rows however big commits get.
 */
const SWEEP_MIN = 256;

/**
 * The embedded state store that survives a restart: the memory store's semantics and speed (reads
 * never leave the process), with every change written to the data dir's database in the same order,
 * group-committed with the event journal. A crash loses at most the changes of the last few
 * milliseconds, together with (never without) the journal deletes that follow them, so the events
 * behind them are delivered again and redo them (docs/reliability.md).
 *
 * TTLs run on the clock port: rows carry their absolute expiry, a restart loads only live ones, and
 * every commit also deletes a bounded batch of expired rows, so the file does not keep what memory
 * dropped.
 */
export interface DurableStoreOptions {
  /**
   * Values kept in memory only, never written to the data dir (`value()` gives the text). For state
   * a restart may forget without harm, and whose values never replace one that was written out (the
   * row would keep the older value): ingest's retry claims (src/ingest/claims.ts).
   */
  volatile?: (key: string, value: () => string) => boolean;
}

export class DurableStateStore extends MemoryStateStore {
  private readonly db: EmbeddedDatabase;

  /** The store of `dataDir`, holding what it held when the last run stopped (less what expired since). */
  constructor(clock: Clock, dataDir: DataDir, options: DurableStoreOptions = {}) {
    const db = dataDir.db;
    super(clock, changesTo(db, options.volatile));
    this.db = db;
    this.load({ entries: dataDir.take('entries'), counters: dataDir.take('counters'), outbox: dataDir.take('outbox') });
    db.onCommit((writes) => {
      const now = clock.now();
      const limit = Math.max(SWEEP_MIN, 2 * writes);
      db.write('kvSweep', now, limit);
      db.write('counterSweep', now, limit);
    });
  }

  override health() {
    return this.db.health();
  }

  /** The data dir's database is closed by its owner, after the bus and the dispatcher. */
  override async close(): Promise<void> {
    await this.db.durable().catch(() => undefined);
    await super.close();
  }
}

function changesTo(db: EmbeddedDatabase, volatile?: DurableStoreOptions['volatile']): StoreChanges {
  return {
    // Lazily: a value replaced before the commit is sent (a hand-off record once sent) is never made.
    entry: (key, value, expiresAt) => {
      if (!volatile?.(key, value)) db.putLazily(`kv:${key}`, () => ['kvPut', key, value(), expiresAt]);
    },
    counter: (key, c, expiresAt) => db.put(`c:${key}`, 'counterPut', key, c.count, c.firstSeen, c.lastSeen, expiresAt),
    deleted: (key) => {
      db.put(`kv:${key}`, 'kvDelete', key);
      db.put(`c:${key}`, 'counterDelete', key);
    },
    // The outbox is all in memory, so a key it did not list has no row either (once queued writes land).
    outbox: (key, dueAt, listed) =>
      dueAt === undefined
        ? db.remove(`o:${key}`, 'outboxDelete', key)
        : listed
          ? db.put(`o:${key}`, 'outboxPut', key, dueAt)
          : db.insert(`o:${key}`, 'outboxPut', key, dueAt),
  };
}
