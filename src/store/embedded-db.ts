import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { systemClock, type Clock, type TimerHandle } from '../core/clock';
import { UnavailableError } from '../core/errors';

/**
 * Embedded mode's database in the data directory: one SQLite file (Node's built-in `node:sqlite`, so
 * nothing native to build) holding the event journal, the state store, the dead letters and the recent
 * alerts, with a redo log in front of it. docs/reliability.md says what it guarantees.
 *
 * Writes are queued on the main thread and group-committed by a worker thread, so the fsync never
 * blocks the event loop: whatever was queued while one commit was syncing goes out as the next
 * commit. A commit is one checksummed record appended to the redo log and fdatasync'ed: sequential
 * bytes, no B-tree pages. A second worker applies the log to SQLite in the background, about once a
 * second, coalesced by row (a hot key written a thousand times in that second is written once; a
 * journal entry appended and acknowledged within it never reaches SQLite), in one transaction that
 * records how far the log is applied; only then are the applied log files deleted. A start-up replays
 * what the log holds past that point. Commits are logged and applied in queue order, so a crash loses
 * at most a suffix of the writes: a state change is never durable without the writes queued before it
 * (the journal entry of the event that caused it, for one).
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

// Every insert is an upsert: a log record may be applied twice (a commit retried after its append
// failed part-way), and applying a write twice in order must leave what applying it once leaves.
const STATEMENTS = {
  metaPut: 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  journalAppend: 'INSERT INTO journal (seq, body) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET body = excluded.body',
  journalAck: 'DELETE FROM journal WHERE seq <= ?',
  kvPut:
    'INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  kvDelete: 'DELETE FROM kv WHERE key = ?',
  counterPut:
    'INSERT INTO counters (key, count, first_seen, last_seen, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen, expires_at = excluded.expires_at',
  counterDelete: 'DELETE FROM counters WHERE key = ?',
  outboxPut: 'INSERT INTO outbox (key, due_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at',
  outboxDelete: 'DELETE FROM outbox WHERE key = ?',
  // Expired rows go a bounded number per commit, oldest first, so no apply stalls on a big sweep.
  kvSweep: 'DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
  counterSweep: 'DELETE FROM counters WHERE key IN (SELECT key FROM counters WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
  deadPut: 'INSERT INTO dead_letters (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body',
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
/** A statement's number in the log: its place here. */
const NAMES = Object.keys(STATEMENTS) as StatementName[];

/**
 * How the apply coalesces each statement. `row:<table>`: sets or deletes the row its first parameter
 * names, so only the last such write of a row counts. `journal`: an append, keyed by its position;
 * `ack`: deletes every position up to its parameter, so an append it covers is dropped. `clear:<table>`:
 * empties the table, so the writes before it are dropped. `sweep`: runs as logged, after the rows
 * (the rows it deletes are expired, so no read could tell it ran later).
 */
const COALESCE: Record<StatementName, string> = {
  metaPut: 'row:meta',
  journalAppend: 'journal',
  journalAck: 'ack',
  kvPut: 'row:kv',
  kvDelete: 'row:kv',
  counterPut: 'row:counters',
  counterDelete: 'row:counters',
  outboxPut: 'row:outbox',
  outboxDelete: 'row:outbox',
  kvSweep: 'sweep',
  counterSweep: 'sweep',
  deadPut: 'row:dead_letters',
  deadDelete: 'row:dead_letters',
  deadClear: 'clear:dead_letters',
  recentPut: 'row:recent_alerts',
  recentDelete: 'row:recent_alerts',
  parkedPut: 'row:parked_events',
  parkedDelete: 'row:parked_events',
};

/**
 * The redo log's files, shared by both workers: `redo-<segment>.log` beside the database, each a run
 * of records `[body length u32][crc32 of the body u32][body]`, the body `[segment u32]` and then the
 * commit's writes, each `[statement u8][parameter count u8]` and its parameters, `0` (null),
 * `1 [byte length u32][UTF-8]` or `2 [float64]` (little-endian throughout). Binary rather than JSON:
 * the values are mostly JSON text already, and escaping them again cost more than the sync (measured:
 * 590 vs 190 µs to encode a 17-event commit, 350 vs 130 to decode it). A record that does not check out
 * (torn by a crash, so never acknowledged) ends its segment.
 */
const LOG_FILES = `
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const segmentFile = (dir, n) => path.join(dir, 'redo-' + String(n).padStart(12, '0') + '.log');
const segmentsIn = (dir) =>
  fs.readdirSync(dir).map((f) => /^redo-(\\d{12})\\.log$/.exec(f)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
const cpuNow = () => { const c = process.threadCpuUsage(); return c.user + c.system; };
const NAMES = workerData.names;
`;

/**
 * The log worker: appends one record per commit and fdatasyncs it. A new segment's directory entry is
 * synced before its first record counts. After a failed append the segment may end in a partial
 * record, so the next append starts a new segment (a reader stops at the partial one).
 */
const LOG_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
${LOG_FILES}
const dir = workerData.dir;
let segment = workerData.segment;
let fd = -1;
let size = 0;
let broken = false;
let closed = [];
function close() {
  if (fd < 0) return;
  fs.closeSync(fd);
  fd = -1;
  closed.push([segment, size]);
  segment++;
  size = 0;
}
// After a failure, whatever the segment holds stays as it is and the next record starts a new one.
function rollOver() {
  if (fd >= 0) try { fs.closeSync(fd); } catch {}
  fd = -1;
  if (fs.existsSync(segmentFile(dir, segment))) {
    closed.push([segment, size]);
    segment++;
  }
  size = 0;
}
const INDEX = new Map(NAMES.map((name, i) => [name, i]));
// One buffer, reused: a fresh one per record cost page faults.
let buf = Buffer.allocUnsafe(1 << 20);
function room(at, bytes) {
  if (buf.length - at >= bytes) return;
  const bigger = Buffer.allocUnsafe(Math.max(2 * buf.length, at + bytes));
  buf.copy(bigger, 0, 0, at);
  buf = bigger;
}
function encode(writes) {
  let at = 12;
  buf.writeUInt32LE(segment, 8);
  for (const w of writes) {
    room(at, 2);
    buf[at++] = INDEX.get(w[0]);
    buf[at++] = w.length - 1;
    for (let i = 1; i < w.length; i++) {
      const p = w[i];
      if (typeof p === 'string') {
        room(at, 5 + 3 * p.length);
        buf[at] = 1;
        const n = buf.write(p, at + 5);
        buf.writeUInt32LE(n, at + 1);
        at += 5 + n;
      } else if (typeof p === 'number') {
        room(at, 9);
        buf[at] = 2;
        buf.writeDoubleLE(p, at + 1);
        at += 9;
      } else {
        room(at, 1);
        buf[at++] = 0;
      }
    }
  }
  buf.writeUInt32LE(at - 8, 0);
  buf.writeUInt32LE(zlib.crc32(buf.subarray(8, at)), 4);
  return at;
}
function append(writes) {
  if (fd < 0) {
    fd = fs.openSync(segmentFile(dir, segment), 'wx');
    const d = fs.openSync(dir, 'r');
    try { fs.fsyncSync(d); } finally { fs.closeSync(d); }
  }
  const length = encode(writes);
  for (let at = 0; at < length; ) at += fs.writeSync(fd, buf, at, length - at, size + at);
  fs.fdatasyncSync(fd);
  size += length;
}
parentPort.on('message', (m) => {
  const start = cpuNow();
  try {
    if (m.close) {
      close();
      parentPort.postMessage({ id: m.id, ok: true });
      parentPort.close();
      return;
    }
    if (broken) { rollOver(); broken = false; }
    if (m.writes.length) append(m.writes);
    if (m.rotate) close();
    const end = cpuNow();
    parentPort.postMessage({ id: m.id, ok: true, segment, size, closed, cpuUs: end, commitCpuUs: end - start });
    closed = [];
  } catch (err) {
    broken = true;
    const end = cpuNow();
    parentPort.postMessage({ id: m.id, error: String(err && err.message), segment, size, closed, cpuUs: end, commitCpuUs: end - start });
    closed = [];
  }
});
parentPort.postMessage({ ready: true });
`;

/**
 * The database worker: opens SQLite, replays the log past the position `meta` records, and from then
 * on applies closed log segments on request (and answers start-up queries). `locking_mode=EXCLUSIVE`
 * keeps the file to this process (a second Falconer on the same data dir waits `busy_timeout`, then
 * fails to start, before it reads any log file); `synchronous=FULL` fsyncs each apply's commit. A
 * rollback journal rather than WAL: with a few large commits a second, WAL's cheap appends buy
 * nothing and its checkpoint writes every page a second time (an apply's COMMIT measured 39–42 µs
 * per event with WAL, 21–26 with `journal_mode=TRUNCATE`). A 32 MiB page cache holds an apply's pages.
 */
const DB_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
${LOG_FILES}
const dir = workerData.dir;
const COALESCE = workerData.coalesce;
let db;
const statements = {};

function appliedThrough() {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'log.applied'").get();
  return row ? Number(row.value) : 0;
}

/** A parameter at \`at\`: [value, where the next one starts]. */
function param(buf, at) {
  const tag = buf[at];
  if (tag === 1) {
    const n = buf.readUInt32LE(at + 1);
    return [buf.toString('utf8', at + 5, at + 5 + n), at + 5 + n];
  }
  if (tag === 2) return [buf.readDoubleLE(at + 1), at + 9];
  if (tag === 0) return [null, at + 1];
  throw new Error('bad parameter tag ' + tag);
}
function skip(buf, at) {
  const tag = buf[at];
  return tag === 1 ? at + 5 + buf.readUInt32LE(at + 1) : tag === 2 ? at + 9 : at + 1;
}
/**
 * A logged write, decoded as far as coalescing needs (the statement and its first parameter, the
 * row); the rest is decoded only if it is the write that counts.
 */
class Logged {
  constructor(name, key, buf, rest, count) {
    this.name = name;
    this.key = key;
    this.buf = buf;
    this.rest = rest;
    this.count = count;
  }
  params() {
    const out = [this.key];
    let at = this.rest;
    for (let i = 1; i < this.count; i++) {
      const [value, next] = param(this.buf, at);
      out.push(value);
      at = next;
    }
    return out;
  }
}

/** Calls \`each\` with every good record's writes, in order; stops at the first bad one. */
function readSegment(n, each) {
  let buf;
  try { buf = fs.readFileSync(segmentFile(dir, n)); } catch (err) { if (err.code === 'ENOENT') return { records: 0, torn: 0 }; throw err; }
  let at = 0;
  let records = 0;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32LE(at);
    const end = at + 8 + length;
    if (length < 4 || end > buf.length) break;
    if (zlib.crc32(buf.subarray(at + 8, end)) !== buf.readUInt32LE(at + 4)) break;
    if (buf.readUInt32LE(at + 8) !== n) break;
    const writes = [];
    let p = at + 12;
    while (p < end) {
      const name = NAMES[buf[p]];
      const count = buf[p + 1];
      p += 2;
      let key = null;
      let rest = p;
      if (count > 0) [key, rest] = param(buf, p);
      p = rest;
      for (let i = 1; i < count; i++) p = skip(buf, p);
      writes.push(new Logged(name, key, buf, rest, count));
    }
    each(writes);
    records++;
    at = end;
  }
  return { records, torn: buf.length - at };
}

/** Writes in log order in, the fewest statements that leave the same rows out. */
function coalescer() {
  const tables = new Map();
  const cleared = [];
  const journal = new Map();
  let journalSorted = true;
  let lastSeq = -Infinity;
  let ackedThrough;
  const sweeps = new Map();
  let writes = 0;
  return {
    add(list) {
      for (const w of list) {
        writes++;
        const kind = COALESCE[w.name];
        if (kind === 'journal') {
          journal.delete(w.key);
          journal.set(w.key, w);
          if (w.key < lastSeq) journalSorted = false;
          lastSeq = w.key;
        } else if (kind === 'ack') {
          if (ackedThrough === undefined || w.key > ackedThrough) ackedThrough = w.key;
          for (const seq of journal.keys()) {
            if (seq <= w.key) journal.delete(seq);
            else if (journalSorted) break;
          }
        } else if (kind === 'sweep') {
          const [now, limit] = w.params();
          let list = sweeps.get(w.name);
          if (!list) sweeps.set(w.name, (list = []));
          const last = list[list.length - 1];
          // Two sweeps at the same time delete what one with both limits would.
          if (last && last[1] === now) last[2] += limit;
          else list.push([w.name, now, limit]);
        } else if (kind.startsWith('clear:')) {
          tables.get(kind.slice(6))?.clear();
          cleared.push([w.name]);
        } else {
          const table = kind.slice(4);
          let rows = tables.get(table);
          if (!rows) tables.set(table, (rows = new Map()));
          rows.delete(w.key);
          rows.set(w.key, w);
        }
      }
    },
    run() {
      let rows = 0;
      const run = (name, params) => { statements[name].run(...params); rows++; };
      for (const w of cleared) run(w[0], []);
      if (ackedThrough !== undefined) run('journalAck', [ackedThrough]);
      for (const w of journal.values()) run(w.name, w.params());
      for (const table of tables.values()) for (const w of table.values()) run(w.name, w.params());
      for (const list of sweeps.values()) for (const w of list) run(w[0], [w[1], w[2]]);
      return { writes, rowsWritten: rows };
    },
  };
}

/** Applies segments after the recorded position up to \`through\` in one transaction, then deletes them. */
function apply(through) {
  const from = appliedThrough();
  const c = coalescer();
  let records = 0;
  let torn = 0;
  for (const n of segmentsIn(dir)) {
    if (n <= from || n > through) continue;
    const r = readSegment(n, (w) => c.add(w));
    records += r.records;
    torn += r.torn;
  }
  db.exec('BEGIN');
  let counts;
  let commitCpuUs = 0;
  try {
    counts = c.run();
    if (through > from) statements.metaPut.run('log.applied', String(through));
    const before = cpuNow();
    db.exec('COMMIT');
    commitCpuUs = cpuNow() - before;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
  for (const n of segmentsIn(dir)) if (n <= through) fs.unlinkSync(segmentFile(dir, n));
  return { records, torn, writes: counts.writes, rowsWritten: counts.rowsWritten, commitCpuUs };
}

try {
  db = new DatabaseSync(workerData.file);
  db.exec('PRAGMA busy_timeout = ' + Number(workerData.busyTimeoutMs));
  db.exec('PRAGMA locking_mode = EXCLUSIVE');
  db.exec('PRAGMA journal_mode = TRUNCATE');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA journal_size_limit = 67108864');
  db.exec('PRAGMA cache_size = -32768');
  db.exec('BEGIN IMMEDIATE');
  db.exec(workerData.schema);
  db.exec('COMMIT');
  for (const [name, sql] of Object.entries(workerData.statements)) statements[name] = db.prepare(sql);
  const segments = segmentsIn(dir);
  const last = Math.max(appliedThrough(), segments.length ? segments[segments.length - 1] : 0);
  const replayed = segments.length ? apply(last) : { records: 0, torn: 0, writes: 0, rowsWritten: 0 };
  parentPort.postMessage({ ready: true, nextSegment: last + 1, replayed, cpuUs: cpuNow() });
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
      const applied = apply(m.through);
      parentPort.postMessage({ id: m.id, ok: true, ...applied, cpuUs: cpuNow() });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message), cpuUs: cpuNow() });
  }
});
`;

export interface CommitStats {
  /** Group commits: records appended to the redo log and synced. */
  commits: number;
  writes: number;
  /** Events appended to the journal (so events per commit can be told from writes per commit). */
  appends: number;
  /** Writes in the largest commit so far. */
  largestCommit: number;
  failures: number;
  /** CPU time both database workers have used so far, in µs (bench/writes.js divides it by events). */
  workerCpuUs: number;
  /** The part of it spent syncing: appending and fdatasyncing log records, and the applies' `COMMIT`s. */
  commitCpuUs: number;
  /** The log worker's part of `workerCpuUs`; the rest is the apply worker's. */
  logCpuUs: number;
  /** Bytes in the redo log not yet applied to SQLite. */
  logBytes: number;
  /** Times a commit waited because the log held `maxLogBytes` (backpressure until an apply empties it). */
  logFull: number;
  /** Applies of the log to SQLite, the writes they read and the rows they wrote after coalescing. */
  applies: number;
  appliedWrites: number;
  appliedRows: number;
  applyFailures: number;
}

/** What the start-up found in the redo log past the applied position, and applied. */
export interface Replayed {
  records: number;
  writes: number;
  /** Bytes ignored at the end of a segment: a record torn by a crash (never acknowledged). */
  torn: number;
}

export interface RedoLogOptions {
  /** Timers of the background apply. */
  clock?: Clock;
  /** How long logged writes wait, at most, to be applied to SQLite. */
  applyIntervalMs?: number;
  /** The log's bound: an apply starts at a quarter of it, and commits wait for one at all of it. */
  maxLogBytes?: number;
}

interface Reply {
  id: number;
  ok?: true;
  rows?: unknown[];
  error?: string;
  cpuUs?: number;
  commitCpuUs?: number;
  // log appends
  segment?: number;
  size?: number;
  closed?: [segment: number, bytes: number][];
  // applies
  writes?: number;
  rowsWritten?: number;
}

interface Batch {
  writes: Write[];
  done: Deferred;
}

/** How long a failed commit or apply waits before it is tried again. */
const RETRY_MS = 1_000;
const APPLY_INTERVAL_MS = 1_000;
const MAX_LOG_BYTES = 64 * 1024 * 1024;

export class EmbeddedDatabase {
  private nextId = 1;
  private readonly replies = new Map<number, (reply: Reply) => void>();
  private readonly outstanding = new Map<Worker, number>();
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
  private applyError?: string;
  /** The worker is gone: nothing can be written any more. */
  private dead = false;
  private closed = false;

  private readonly clock: Clock;
  private readonly applyIntervalMs: number;
  private readonly maxLogBytes: number;
  /** The segment the log worker appends to, and its size. */
  private segment: number;
  private segmentBytes = 0;
  /** Closed segments not yet applied, with their sizes. */
  private readonly unapplied = new Map<number, number>();
  private appliedThrough: number;
  private wantApply = false;
  /** Commits wait for an apply: the log is full. */
  private held = false;
  private applying = false;
  private applyTimer?: TimerHandle;
  private applyRetry?: NodeJS.Timeout;
  private flushes: { through: number; done: Deferred }[] = [];
  private logCpuUs = 0;
  private applyCpuUs = 0;
  private readonly counts = {
    commits: 0,
    writes: 0,
    appends: 0,
    largestCommit: 0,
    failures: 0,
    commitCpuUs: 0,
    logFull: 0,
    applies: 0,
    appliedWrites: 0,
    appliedRows: 0,
    applyFailures: 0,
  };

  private constructor(
    readonly file: string,
    /** The SQLite worker (start-up queries and applies). */
    private readonly worker: Worker,
    private readonly log: Worker,
    firstSegment: number,
    readonly replayed: Replayed,
    startCpuUs: number,
    options: RedoLogOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.applyIntervalMs = options.applyIntervalMs ?? APPLY_INTERVAL_MS;
    this.maxLogBytes = options.maxLogBytes ?? MAX_LOG_BYTES;
    this.segment = firstSegment;
    this.appliedThrough = firstSegment - 1;
    this.applyCpuUs = startCpuUs;
    for (const w of [worker, log]) {
      // A worker keeps the process alive only while a request to it is outstanding.
      w.unref();
      this.outstanding.set(w, 0);
      w.on('message', (reply: Reply) => {
        const resolve = this.replies.get(reply.id);
        this.replies.delete(reply.id);
        const left = this.outstanding.get(w)! - 1;
        this.outstanding.set(w, left);
        if (left === 0) w.unref();
        resolve?.(reply);
      });
      w.on('error', (err) => this.fail(`database worker died: ${err.message}`));
      w.on('exit', () => this.fail('database worker exited'));
    }
  }

  /** Opens (creating it if needed) and locks the database file, replaying its redo log; rejects when it cannot. */
  static async open(file: string, busyTimeoutMs = 5_000, options: RedoLogOptions = {}): Promise<EmbeddedDatabase> {
    const dir = dirname(file);
    const worker = new Worker(DB_WORKER, {
      eval: true,
      workerData: { file, dir, busyTimeoutMs, schema: SCHEMA, statements: STATEMENTS, coalesce: COALESCE, names: NAMES },
    });
    const first = await firstMessage<{ ready?: true; failed?: string; nextSegment: number; replayed: Replayed; cpuUs: number }>(
      worker,
    );
    if (!first.ready) {
      await worker.terminate();
      throw new Error(first.failed ?? 'database did not open');
    }
    const log = new Worker(LOG_WORKER, { eval: true, workerData: { dir, segment: first.nextSegment, names: NAMES } });
    await firstMessage(log);
    const { records, writes, torn } = first.replayed;
    return new EmbeddedDatabase(file, worker, log, first.nextSegment, { records, writes, torn }, first.cpuUs, options);
  }

  /** Reads rows, once everything committed is applied; used while loading at start-up (steady-state reads are served from memory). */
  async query<T>(sql: string, ...params: Param[]): Promise<T[]> {
    await this.flush();
    const reply = await this.request(this.worker, { query: sql, params });
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

  /** Resolves once every write queued so far is in the redo log and synced; rejects if that commit fails. */
  durable(): Promise<void> {
    if (this.ordered.length || this.keyed.size) return (this.pendingDone ??= deferred()).promise;
    return this.inFlight ? this.inFlight.done.promise : Promise.resolve();
  }

  /** Resolves once every write queued so far is applied to SQLite (and the log holding it deleted). */
  async flush(): Promise<void> {
    await this.durable();
    while (this.inFlight) await this.inFlight.done.promise;
    const through = this.segmentBytes > 0 ? this.segment : Math.max(this.appliedThrough, ...this.unapplied.keys());
    if (through <= this.appliedThrough) return;
    const done = deferred();
    this.flushes.push({ through, done });
    this.requestApply();
    return done.promise;
  }

  /** Runs before each commit is sent, with its number of writes, to add some that ride along (sweeps). */
  onCommit(hook: (writes: number) => void): void {
    this.beforeCommit.push(hook);
  }

  health(): { ok: boolean; detail?: string } {
    const error = this.lastError ?? this.applyError;
    if (error) return { ok: false, detail: `data dir: ${error}` };
    return { ok: true };
  }

  stats(): CommitStats {
    return {
      ...this.counts,
      workerCpuUs: this.logCpuUs + this.applyCpuUs,
      logCpuUs: this.logCpuUs,
      logBytes: this.logBytes(),
    };
  }

  /** Commits what is queued, applies the log, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.durable().catch(() => undefined);
    while (this.inFlight) await this.inFlight.done.promise.catch(() => undefined);
    await this.flush().catch(() => undefined);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.applyRetry) clearTimeout(this.applyRetry);
    if (this.applyTimer) this.clock.clearTimeout(this.applyTimer);
    await Promise.all([this.request(this.log, { close: true }), this.request(this.worker, { close: true })]).catch(
      () => undefined,
    );
    await Promise.all([this.log.terminate(), this.worker.terminate()]);
  }

  private logBytes(): number {
    let bytes = this.segmentBytes;
    for (const b of this.unapplied.values()) bytes += b;
    return bytes;
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
    if (this.inFlight || this.closed || this.retryTimer) return;
    const pending = this.ordered.length > 0 || this.keyed.size > 0;
    // Backpressure: a full log takes no more until an apply has emptied it.
    const full = pending && this.logBytes() >= this.maxLogBytes;
    if (full && !this.held) this.counts.logFull++;
    this.held = full;
    if (full) this.wantApply = true;
    const rotate = this.wantApply && !this.applying && (pending || this.segmentBytes > 0 || this.unapplied.size > 0);
    if (this.wantApply && !this.applying && !rotate) this.wantApply = false;
    if (!rotate && (full || !pending)) return;
    let writes: Write[] = [];
    if (pending && !full) {
      const size = this.ordered.length + this.keyed.size;
      for (const hook of this.beforeCommit) hook(size);
      writes = this.ordered;
      for (const w of this.keyed.values()) writes.push(typeof w === 'function' ? w() : w);
      this.ordered = [];
      this.keyed = new Map();
      this.created = new Set();
    }
    const batch: Batch = { writes, done: writes.length ? (this.pendingDone ?? deferred()) : deferred() };
    if (writes.length) this.pendingDone = undefined;
    batch.done.promise.catch(() => undefined);
    this.inFlight = batch;
    void this.request(this.log, { writes, rotate }).then(
      (reply) => this.committed(batch, reply),
      (err: Error) => this.committed(batch, { id: 0, error: err.message }),
    );
  }

  private committed(batch: Batch, reply: Reply): void {
    this.inFlight = undefined;
    if (reply.cpuUs !== undefined) this.logCpuUs = reply.cpuUs;
    this.counts.commitCpuUs += reply.commitCpuUs ?? 0;
    if (reply.segment !== undefined) {
      for (const [segment, bytes] of reply.closed ?? []) this.unapplied.set(segment, bytes);
      this.segment = reply.segment;
      this.segmentBytes = reply.size!;
    }
    if (reply.error === undefined) {
      this.lastError = undefined;
      if (batch.writes.length) {
        this.counts.commits++;
        this.counts.writes += batch.writes.length;
        for (const w of batch.writes) if (w[0] === 'journalAppend') this.counts.appends++;
        this.counts.largestCommit = Math.max(this.counts.largestCommit, batch.writes.length);
      }
      batch.done.resolve();
      this.afterLogged();
      this.commit(); // what was queued during this sync: the wait already happened
      return;
    }
    // The append failed. Its waiters hear 503 now; its writes go first into the next try, so the
    // order (and what a later commit depends on) holds.
    this.counts.failures++;
    if (!this.dead) this.lastError = `commit failed: ${reply.error}`;
    batch.done.reject(new UnavailableError(`data dir: ${this.lastError}`, 1));
    if (this.dead) return this.failFlushes(); // nothing will be written again; every later wait fails the same way
    this.ordered = [...batch.writes, ...this.ordered];
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.commit();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** After a log append: starts an apply of the closed segments, or arms the timer that will. */
  private afterLogged(): void {
    if (this.unapplied.size > 0 && !this.applying) {
      this.wantApply = false;
      this.apply(Math.max(...this.unapplied.keys()));
    }
    if (this.logBytes() >= this.maxLogBytes / 4) this.wantApply = true;
    else if (this.segmentBytes > 0 && !this.applyTimer) {
      this.applyTimer = this.clock.setTimeout(() => {
        this.applyTimer = undefined;
        this.requestApply();
      }, this.applyIntervalMs);
    }
  }

  /** Asks for the current segment to be closed and applied with the next commit (or alone). */
  private requestApply(): void {
    if (this.closed) return;
    this.wantApply = true;
    this.commit();
  }

  private apply(through: number): void {
    this.applying = true;
    void this.request(this.worker, { through }).then(
      (reply) => this.appliedUpTo(through, reply),
      (err: Error) => this.appliedUpTo(through, { id: 0, error: err.message }),
    );
  }

  private appliedUpTo(through: number, reply: Reply): void {
    this.applying = false;
    if (reply.cpuUs !== undefined) this.applyCpuUs = reply.cpuUs;
    if (reply.error !== undefined) {
      this.counts.applyFailures++;
      if (this.dead) return this.failFlushes();
      this.applyError = `apply failed: ${reply.error}`;
      this.failFlushes();
      // The log keeps the writes; a later apply takes them with whatever came since.
      this.applyRetry = setTimeout(() => {
        this.applyRetry = undefined;
        this.requestApply();
      }, RETRY_MS);
      this.applyRetry.unref();
      return;
    }
    this.applyError = undefined;
    this.counts.applies++;
    this.counts.appliedWrites += reply.writes ?? 0;
    this.counts.appliedRows += reply.rowsWritten ?? 0;
    this.counts.commitCpuUs += reply.commitCpuUs ?? 0;
    this.appliedThrough = Math.max(this.appliedThrough, through);
    for (const segment of [...this.unapplied.keys()]) if (segment <= through) this.unapplied.delete(segment);
    const waiting = this.flushes;
    this.flushes = [];
    for (const f of waiting) {
      if (f.through <= this.appliedThrough) f.done.resolve();
      else this.flushes.push(f);
    }
    if (this.flushes.length) this.wantApply = true;
    if (this.logBytes() >= this.maxLogBytes / 4) this.wantApply = true;
    this.commit(); // commits held by a full log, or the next apply
  }

  private failFlushes(): void {
    const error = new UnavailableError(`data dir: ${this.lastError ?? this.applyError}`, 1);
    for (const f of this.flushes.splice(0)) f.done.reject(error);
  }

  private request(worker: Worker, message: object): Promise<Reply> {
    if (this.dead) return Promise.reject(new UnavailableError(`data dir: ${this.lastError}`, 1));
    const id = this.nextId++;
    return new Promise<Reply>((resolve) => {
      const n = this.outstanding.get(worker)!;
      if (n === 0) worker.ref();
      this.outstanding.set(worker, n + 1);
      this.replies.set(id, resolve);
      worker.postMessage({ id, ...message });
    });
  }

  private fail(message: string): void {
    if (this.closed || this.dead) return;
    this.dead = true;
    this.lastError = message;
    for (const [id, resolve] of this.replies) {
      this.replies.delete(id);
      resolve({ id, error: message });
    }
  }
}

function firstMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
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
