import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../core/errors';

/**
 * Embedded mode's database in the data directory: one SQLite file (Node's built-in `node:sqlite`, so
 * nothing native to build) holding the event journal, the state store, the dead letters and the recent
 * alerts. docs/reliability.md says what it guarantees; bench/journal.js measures it.
 *
 * Writes are queued on the main thread and group-committed by a worker thread, so the fsync never
 * blocks the event loop: whatever was queued while one commit was syncing goes out as the next
 * commit, one write and one sync for every request and state change in between. Commits are applied
 * in queue order, so a crash loses at most a suffix of the writes: a state change is never durable
 * without the writes queued before it (the journal entry of the event that caused it, for one).
 */

type Param = string | number | null;
/** A write: a statement of `STATEMENTS` by name, then its parameters. */
export type Write = [StatementName, ...Param[]];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at);
CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, due_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recent_alerts (fingerprint TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parked_events (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, letter TEXT NOT NULL);
`;

const STATEMENTS = {
  metaPut: 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  journalAppend: 'INSERT INTO journal (seq, body) VALUES (?, ?)',
  journalAck: 'DELETE FROM journal WHERE seq <= ?',
  kvPut:
    'INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  kvDelete: 'DELETE FROM kv WHERE key = ?',
  counterPut:
    'INSERT INTO counters (key, count, first_seen, last_seen, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen, expires_at = excluded.expires_at',
  counterDelete: 'DELETE FROM counters WHERE key = ?',
  outboxPut: 'INSERT INTO outbox (key, due_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at',
  outboxDelete: 'DELETE FROM outbox WHERE key = ?',
  // Expired rows go a bounded number per commit, oldest first, so no commit stalls on a big sweep.
  kvSweep: 'DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
  counterSweep: 'DELETE FROM counters WHERE key IN (SELECT key FROM counters WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
  deadPut: 'INSERT INTO dead_letters (id, body) VALUES (?, ?)',
  deadDelete: 'DELETE FROM dead_letters WHERE id = ?',
  deadClear: 'DELETE FROM dead_letters',
  recentPut:
    'INSERT INTO recent_alerts (fingerprint, seq, body) VALUES (?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET seq = excluded.seq, body = excluded.body',
  recentDelete: 'DELETE FROM recent_alerts WHERE fingerprint = ?',
  parkedPut:
    'INSERT INTO parked_events (id, seq, letter) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, letter = excluded.letter',
  parkedDelete: 'DELETE FROM parked_events WHERE id = ?',
} as const;
export type StatementName = keyof typeof STATEMENTS;

/**
 * The worker: a generic SQLite transaction runner, so every statement and all the logic stay in typed
 * code on the main thread. Plain JavaScript in a string because a worker cannot load TypeScript.
 * `locking_mode=EXCLUSIVE` keeps the file to this process (a second Falconer on the same data dir
 * waits `busy_timeout`, then fails to start); `synchronous=FULL` fsyncs the WAL on every commit.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
let db;
const statements = {};
try {
  db = new DatabaseSync(workerData.file);
  db.exec('PRAGMA busy_timeout = ' + Number(workerData.busyTimeoutMs));
  db.exec('PRAGMA locking_mode = EXCLUSIVE');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA journal_size_limit = 67108864');
  db.exec('BEGIN IMMEDIATE');
  db.exec(workerData.schema);
  db.exec('COMMIT');
  for (const [name, sql] of Object.entries(workerData.statements)) statements[name] = db.prepare(sql);
  parentPort.postMessage({ ready: true });
} catch (err) {
  parentPort.postMessage({ failed: String(err && err.message) });
}
parentPort.on('message', (m) => {
  try {
    if (m.close) {
      db.close();
      parentPort.postMessage({ id: m.id, ok: true });
      parentPort.close();
    } else if (m.query) {
      parentPort.postMessage({ id: m.id, rows: db.prepare(m.query).all(...m.params) });
    } else {
      db.exec('BEGIN');
      for (const w of m.writes) statements[w[0]].run(...w.slice(1));
      const before = process.threadCpuUsage();
      db.exec('COMMIT');
      const after = process.threadCpuUsage();
      const cpuUs = after.user + after.system;
      parentPort.postMessage({ id: m.id, ok: true, cpuUs, commitCpuUs: cpuUs - before.user - before.system });
    }
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    parentPort.postMessage({ id: m.id, error: String(err && err.message) });
  }
});
`;

export interface CommitStats {
  commits: number;
  writes: number;
  /** Events appended to the journal (so events per commit can be told from writes per commit). */
  appends: number;
  /** Writes in the largest commit so far. */
  largestCommit: number;
  failures: number;
  /** CPU time the database worker has used so far, in µs (bench/writes.js divides it by events). */
  workerCpuUs: number;
  /** The part of it spent in `COMMIT`: writing the dirty pages to the WAL and syncing it. */
  commitCpuUs: number;
}

interface Reply {
  id: number;
  ok?: true;
  rows?: unknown[];
  error?: string;
  cpuUs?: number;
  commitCpuUs?: number;
}

interface Batch {
  writes: Write[];
  done: Deferred;
}

/** How long a failed commit waits before it is tried again, with whatever was queued meanwhile. */
const RETRY_MS = 1_000;

export class EmbeddedDatabase {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly replies = new Map<number, (reply: Reply) => void>();
  /** Writes in queue order, and keyed writes of which only the last per slot counts. */
  private ordered: Write[] = [];
  private keyed = new Map<string, Write | (() => Write)>();
  /** Slots of `keyed` whose row this commit creates (it exists neither in the file nor in an earlier commit). */
  private created = new Set<string>();
  private pendingDone?: Deferred;
  private inFlight?: Batch;
  private scheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private readonly beforeCommit: ((writes: number) => void)[] = [];
  private lastError?: string;
  /** The worker is gone: nothing can be written any more. */
  private dead = false;
  private closed = false;
  private readonly counts: CommitStats = {
    commits: 0,
    writes: 0,
    appends: 0,
    largestCommit: 0,
    failures: 0,
    workerCpuUs: 0,
    commitCpuUs: 0,
  };

  private constructor(
    readonly file: string,
    worker: Worker,
  ) {
    this.worker = worker;
    // The worker keeps the process alive only while a commit or query is outstanding.
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const resolve = this.replies.get(reply.id);
      this.replies.delete(reply.id);
      if (this.replies.size === 0) worker.unref();
      resolve?.(reply);
    });
    worker.on('error', (err) => this.fail(`database worker died: ${err.message}`));
    worker.on('exit', () => this.fail('database worker exited'));
  }

  /** Opens (creating it if needed) and locks the database file; rejects when it cannot. */
  static async open(file: string, busyTimeoutMs = 5_000): Promise<EmbeddedDatabase> {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { file, busyTimeoutMs, schema: SCHEMA, statements: STATEMENTS },
    });
    const first = await new Promise<{ ready?: true; failed?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!first.ready) {
      await worker.terminate();
      throw new Error(first.failed ?? 'database did not open');
    }
    return new EmbeddedDatabase(file, worker);
  }

  /** Reads rows; used while loading at start-up (steady-state reads are served from memory). */
  async query<T>(sql: string, ...params: Param[]): Promise<T[]> {
    const reply = await this.request({ query: sql, params });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.rows as T[];
  }

  /** Queues a write for the next commit. */
  write(...write: Write): void {
    this.ordered.push(write);
    this.schedule();
  }

  /**
   * Queues a write that replaces any earlier one for the same `slot` within the commit being
   * gathered (a hot key's value, changed a hundred times between two syncs, is written once).
   * Keyed writes go after the ordered ones of their commit; a commit is atomic either way.
   */
  put(slot: string, ...write: Write): void {
    this.putLazily(slot, write);
  }

  /** `put`, with the write made only when its commit is sent: a value replaced before then is never serialised. */
  putLazily(slot: string, write: Write | (() => Write)): void {
    this.keyed.delete(slot);
    this.keyed.set(slot, write);
    this.schedule();
  }

  /**
   * `put` of a row the caller knows is absent once every write queued so far is applied (an outbox
   * entry its store did not list). When `remove` of the same slot follows within this commit, neither
   * is written: a notification handed off and sent between two syncs costs the outbox nothing.
   */
  insert(slot: string, ...write: Write): void {
    // A write already queued for the slot (a delete) must still reach the file unless this one does.
    if (!this.keyed.has(slot)) this.created.add(slot);
    this.putLazily(slot, write);
  }

  /** A delete of the slot's row, or, when this commit `insert`ed it, no write at all. */
  remove(slot: string, ...write: Write): void {
    if (this.created.delete(slot)) {
      this.keyed.delete(slot);
      return;
    }
    this.putLazily(slot, write);
  }

  /** Resolves once every write queued so far is committed and synced; rejects if that commit fails. */
  durable(): Promise<void> {
    if (this.ordered.length || this.keyed.size) return (this.pendingDone ??= deferred()).promise;
    return this.inFlight ? this.inFlight.done.promise : Promise.resolve();
  }

  /** Runs before each commit is sent, with its number of writes, to add some that ride along (sweeps). */
  onCommit(hook: (writes: number) => void): void {
    this.beforeCommit.push(hook);
  }

  health(): { ok: boolean; detail?: string } {
    if (this.lastError) return { ok: false, detail: `data dir: ${this.lastError}` };
    return { ok: true };
  }

  stats(): CommitStats {
    return { ...this.counts };
  }

  /** Commits what is queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.durable().catch(() => undefined);
    while (this.inFlight) await this.inFlight.done.promise.catch(() => undefined);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.request({ close: true }).catch(() => undefined);
    await this.worker.terminate();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.retryTimer || this.closed) return;
    this.scheduled = true;
    // Everything queued in this turn of the event loop (every request read in one poll) rides along.
    setImmediate(() => {
      this.scheduled = false;
      this.commit();
    });
  }

  private commit(): void {
    if (this.inFlight || this.closed || !(this.ordered.length || this.keyed.size)) return;
    const size = this.ordered.length + this.keyed.size;
    for (const hook of this.beforeCommit) hook(size);
    const writes = this.ordered;
    for (const w of this.keyed.values()) writes.push(typeof w === 'function' ? w() : w);
    const batch: Batch = { writes, done: this.pendingDone ?? deferred() };
    this.ordered = [];
    this.keyed = new Map();
    this.created = new Set();
    this.pendingDone = undefined;
    this.inFlight = batch;
    void this.request({ writes }).then(
      (reply) => this.committed(batch, reply),
      (err: Error) => this.committed(batch, { id: 0, error: err.message }),
    );
  }

  private committed(batch: Batch, reply: Reply): void {
    this.inFlight = undefined;
    if (reply.error === undefined) {
      this.lastError = undefined;
      this.counts.commits++;
      this.counts.writes += batch.writes.length;
      for (const w of batch.writes) if (w[0] === 'journalAppend') this.counts.appends++;
      this.counts.largestCommit = Math.max(this.counts.largestCommit, batch.writes.length);
      this.counts.workerCpuUs = reply.cpuUs ?? this.counts.workerCpuUs;
      this.counts.commitCpuUs += reply.commitCpuUs ?? 0;
      batch.done.resolve();
      this.commit(); // what was queued during this sync: the wait already happened
      return;
    }
    // The commit rolled back. Its waiters hear 503 now; its writes go first into the next try, so the
    // order (and what a later commit depends on) holds.
    this.counts.failures++;
    if (!this.dead) this.lastError = `commit failed: ${reply.error}`;
    batch.done.reject(new UnavailableError(`data dir: ${this.lastError}`, 1));
    batch.done.promise.catch(() => undefined);
    if (this.dead) return; // nothing will be written again; every later wait fails the same way
    this.ordered = [...batch.writes, ...this.ordered];
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.commit();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private request(message: object): Promise<Reply> {
    if (this.dead) return Promise.reject(new UnavailableError(`data dir: ${this.lastError}`, 1));
    const id = this.nextId++;
    return new Promise<Reply>((resolve) => {
      if (this.replies.size === 0) this.worker.ref();
      this.replies.set(id, resolve);
      this.worker.postMessage({ id, ...message });
    });
  }

  private fail(message: string): void {
    if (this.closed) return;
    this.dead = true;
    this.lastError = message;
    for (const [id, resolve] of this.replies) {
      this.replies.delete(id);
      resolve({ id, error: message });
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
