import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StorageError } from '../core/errors';
import type { Counter } from './port';
import { EmbeddedDatabase, type RedoLogOptions } from './embedded-db';

const FILE = 'falconer.db';

/** What the last run left in the data dir, read once at start-up and handed to the adapters. */
export interface SavedState {
  /** Events accepted and not yet handled, in publish order. */
  journal: { seq: number; body: string }[];
  /** The next journal position (positions never go back). */
  journalNext: number;
  entries: [key: string, value: string, expiresAt: number][];
  counters: [key: string, counter: Counter, expiresAt: number][];
  outbox: [key: string, dueAt: number][];
  deadLetters: { id: number; body: string }[];
  /** Recent alerts as JSON, oldest first. */
  recentAlerts: { seq: number; body: string }[];
  /** Events parked by the pipeline (the event dead-letter store), oldest first. */
  parkedEvents: { id: string; seq: number; letter: string }[];
}

/**
 * Embedded mode's data directory (`dataDir`): one database file, locked to this process, and what it
 * held at start-up. `open` answers why not instead when the directory is not usable, so the caller
 * can run memory-only and say so.
 */
export class DataDir {
  private saved?: SavedState;

  private constructor(
    readonly path: string,
    readonly db: EmbeddedDatabase,
    /** This installation's dispatcher identity, kept across restarts. */
    readonly owner: string,
    saved: SavedState,
  ) {
    this.saved = saved;
  }

  /**
   * A DataDir, or a sentence saying why embedded mode has to run memory-only (no dir configured, or
   * one that cannot be created or written). Throws StorageError when the directory is usable but its
   * database is not: held by another Falconer past `busyTimeoutMs`, or damaged.
   */
  static async open(dir: string, now: number, busyTimeoutMs = 5_000, log: RedoLogOptions = {}): Promise<DataDir | string> {
    if (dir === '') return 'dataDir is empty';
    const path = resolve(dir);
    try {
      mkdirSync(path, { recursive: true });
      accessSync(path, constants.W_OK);
    } catch (err) {
      return `data dir ${path} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    let db: EmbeddedDatabase;
    try {
      db = await EmbeddedDatabase.open(join(path, FILE), busyTimeoutMs, log);
    } catch (err) {
      const message = (err as Error).message;
      throw new StorageError(
        /locked|busy/i.test(message)
          ? `data dir ${path} is in use by another Falconer process (${message})`
          : `cannot open ${join(path, FILE)}: ${message}`,
      );
    }
    const [journal, meta, entries, counters, outbox, deadLetters, recentAlerts, parkedEvents] = await Promise.all([
      db.query<{ seq: number; body: string }>('SELECT seq, body FROM journal ORDER BY seq'),
      db.query<{ key: string; value: string }>('SELECT key, value FROM meta'),
      db.query<{ key: string; value: string; expires_at: number }>(
        'SELECT key, value, expires_at FROM kv WHERE expires_at > ?',
        now,
      ),
      db.query<{ key: string; count: number; first_seen: number; last_seen: number; expires_at: number }>(
        'SELECT key, count, first_seen, last_seen, expires_at FROM counters WHERE expires_at > ?',
        now,
      ),
      db.query<{ key: string; due_at: number }>('SELECT key, due_at FROM outbox'),
      db.query<{ id: number; body: string }>('SELECT id, body FROM dead_letters ORDER BY id'),
      db.query<{ seq: number; body: string }>('SELECT seq, body FROM recent_alerts ORDER BY seq'),
      db.query<{ id: string; seq: number; letter: string }>('SELECT id, seq, letter FROM parked_events ORDER BY seq'),
    ]);
    const metaOf = new Map(meta.map((m) => [m.key, m.value]));
    let owner = metaOf.get('owner');
    if (!owner) {
      owner = `embedded-${randomUUID()}`;
      db.write('metaPut', 'owner', owner);
      await db.durable();
    }
    return new DataDir(path, db, owner, {
      journal,
      journalNext: Math.max(Number(metaOf.get('journal.next') ?? 1), (journal.at(-1)?.seq ?? 0) + 1),
      entries: entries.map((r) => [r.key, r.value, r.expires_at]),
      counters: counters.map((r) => [r.key, { count: r.count, firstSeen: r.first_seen, lastSeen: r.last_seen }, r.expires_at]),
      outbox: outbox.map((r) => [r.key, r.due_at]),
      deadLetters,
      recentAlerts,
      parkedEvents,
    });
  }

  /** What the last run left; the adapters take their part once, at construction. */
  take<K extends keyof SavedState>(part: K): SavedState[K] {
    if (!this.saved) throw new Error('saved state already released');
    return this.saved[part];
  }

  /** Lets go of what was loaded once every adapter has taken its part. */
  release(): void {
    this.saved = undefined;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
