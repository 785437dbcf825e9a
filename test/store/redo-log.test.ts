import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { VirtualClock } from '../../src/core/clock';
import { DataDir } from '../../src/store/data-dir';
import type { EmbeddedDatabase, RedoLogOptions, Write } from '../../src/store/embedded-db';
import { eventually } from '../bus/contract';
import { removeTempDirs, tempDir } from '../support/data-dir';

afterAll(removeTempDirs);

/** Applies held off unless a test asks: the virtual clock is never advanced. */
async function open(dir: string, log: RedoLogOptions = {}): Promise<DataDir> {
  const opened = await DataDir.open(dir, 0, 5_000, { clock: new VirtualClock(0), ...log });
  if (typeof opened === 'string') throw new Error(opened);
  return opened;
}

const segments = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^redo-\d+\.log$/.test(f))
    .sort();
/** (An apply may delete a file while this reads the directory.) */
const logBytesOnDisk = (dir: string) =>
  segments(dir).reduce((n, f) => n + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0);

/** The process "crashes": both database threads stop where they are, nothing is applied or closed. */
async function crash(db: EmbeddedDatabase): Promise<void> {
  const threads = db as unknown as { worker: { terminate(): Promise<number> }; log: { terminate(): Promise<number> } };
  await Promise.all([threads.worker.terminate(), threads.log.terminate()]);
}

/** Rows of the database file itself, what an apply has put there (read while no process holds it). */
function fileRows(dir: string, sql: string): unknown[] {
  const db = new DatabaseSync(join(dir, 'falconer.db'), { readOnly: true });
  try {
    return db
      .prepare(sql)
      .all()
      .map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

/** Runs test/store/redo-log-child.js: `count` commits synced to the log, then SIGKILL. */
async function killedAfterLogging(dir: string, count: number): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'redo-log-child.js'), dir, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
  await eventually(`the child's commits (${output})`, () => output.includes('logged') || child.exitCode !== null, 30_000);
  expect(output).toContain('logged');
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

describe('the redo log across a SIGKILL', () => {
  jest.setTimeout(60_000);

  it('replays what was synced to the log and never applied', async () => {
    const dir = tempDir();
    await killedAfterLogging(dir, 20);
    // Acknowledged, and not in the database file: only the log holds it.
    expect(fileRows(dir, "SELECT key FROM meta WHERE key LIKE 'k%'")).toEqual([]);
    expect(segments(dir).length).toBeGreaterThan(0);

    const dataDir = await open(dir);
    expect(dataDir.db.replayed).toMatchObject({ records: 21, writes: 21, torn: 0 }); // and the owner's identity
    const rows = await dataDir.db.query<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'k%'");
    expect(new Map(rows.map((r) => [r.key, r.value]))).toEqual(new Map(Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`])));
    expect(segments(dir)).toEqual([]); // applied, so deleted
    await dataDir.close();
    // The replay was itself applied durably: a second start finds nothing to replay and the same rows.
    const again = await open(dir);
    expect(again.db.replayed.records).toBe(0);
    expect(await again.db.query("SELECT count(*) AS n FROM meta WHERE key LIKE 'k%'")).toEqual([{ n: 20 }]);
    await again.close();
  });

  it('ignores a torn last record, and stops at a record whose checksum fails', async () => {
    const torn = tempDir();
    await killedAfterLogging(torn, 5);
    const last = join(torn, segments(torn).at(-1)!);
    truncateSync(last, statSync(last).size - 3); // the last write did not reach the disk whole
    const a = await open(torn);
    expect(a.db.replayed.records).toBe(5); // the owner's identity, k0 to k3
    expect(a.db.replayed.torn).toBeGreaterThan(0);
    const keys = (await a.db.query<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key")).map((r) => r.key);
    expect(keys).toEqual(['k0', 'k1', 'k2', 'k3']);
    await a.close();

    const flipped = tempDir();
    await killedAfterLogging(flipped, 5);
    const file = join(flipped, segments(flipped).at(-1)!);
    const bytes = readFileSync(file);
    // Records are written in order (the owner's identity, then k0, k1, ...): damage a byte of k2's.
    let at = 0;
    for (let i = 0; i < 3; i++) at += 8 + bytes.readUInt32LE(at);
    bytes[at + 12] = bytes[at + 12]! ^ 0xff;
    writeFileSync(file, bytes);
    const b = await open(flipped);
    expect(b.db.replayed.records).toBe(3);
    const left = (await b.db.query<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key")).map((r) => r.key);
    expect(left).toEqual(['k0', 'k1']); // nothing after the bad record, though later ones check out
    await b.close();
  });
});

/** A deterministic generator, so a failing sequence can be replayed by its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the tables hold after a sequence of writes, applied one by one as SQL would. */
class Model {
  readonly tables = new Map<string, Map<string | number, unknown[]>>();
  table(name: string): Map<string | number, unknown[]> {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new Map()));
    return t;
  }
  apply(w: Write): void {
    const [name, ...p] = w;
    const key = p[0]!;
    const table = TABLE_OF[name]!;
    if (name === 'journalAck') {
      for (const seq of this.table('journal').keys()) if ((seq as number) <= (key as number)) this.table('journal').delete(seq);
    } else if (name === 'deadClear') this.table('dead_letters').clear();
    else if (name.endsWith('Delete')) this.table(table).delete(key);
    else this.table(table).set(key, p);
  }
}

const TABLE_OF: Record<string, string> = {
  metaPut: 'meta',
  journalAppend: 'journal',
  kvPut: 'kv',
  kvDelete: 'kv',
  counterPut: 'counters',
  counterDelete: 'counters',
  outboxPut: 'outbox',
  outboxDelete: 'outbox',
  deadPut: 'dead_letters',
  deadDelete: 'dead_letters',
  recentPut: 'recent_alerts',
  recentDelete: 'recent_alerts',
  parkedPut: 'parked_events',
  parkedDelete: 'parked_events',
};

const COLUMNS: Record<string, string> = {
  meta: "SELECT key, value FROM meta WHERE key LIKE 'm%'",
  journal: 'SELECT seq, body FROM journal',
  kv: 'SELECT key, value, expires_at FROM kv',
  counters: 'SELECT key, count, first_seen, last_seen, expires_at FROM counters',
  outbox: 'SELECT key, due_at FROM outbox',
  dead_letters: 'SELECT id, body FROM dead_letters',
  recent_alerts: 'SELECT fingerprint, seq, body FROM recent_alerts',
  parked_events: 'SELECT id, seq, letter FROM parked_events',
};

/** A random write over a few keys per table, so rows are set, replaced and deleted many times over. */
function randomWrite(next: () => number, state: { seq: number; acked: number; dead: number }): Write {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const key = `k${Math.floor(next() * 6)}`;
  const value = `v${Math.floor(next() * 1e6)}-${'x'.repeat(Math.floor(next() * 300))}`;
  const n = Math.floor(next() * 1e9);
  switch (pick(['kv', 'counter', 'outbox', 'dead', 'recent', 'parked', 'journal', 'journal', 'meta'] as const)) {
    case 'kv':
      return next() < 0.7 ? ['kvPut', key, value, n] : ['kvDelete', key];
    case 'counter':
      return next() < 0.7 ? ['counterPut', key, n, n + 1, n + 2, n + 3] : ['counterDelete', key];
    case 'outbox':
      return next() < 0.6 ? ['outboxPut', key, n] : ['outboxDelete', key];
    case 'dead': {
      const r = next();
      if (r < 0.6) return ['deadPut', ++state.dead, value];
      if (r < 0.9) return ['deadDelete', Math.ceil(next() * state.dead)];
      return ['deadClear'];
    }
    case 'recent':
      return next() < 0.7 ? ['recentPut', key, n, value] : ['recentDelete', key];
    case 'parked':
      return next() < 0.7 ? ['parkedPut', key, n, value] : ['parkedDelete', key];
    case 'journal': {
      if (next() < 0.6) return ['journalAppend', ++state.seq, value];
      // As the bus acknowledges, mostly: onwards from the last acknowledgement, often up to the newest.
      if (next() < 0.1) return ['journalAck', Math.floor(next() * (state.seq + 1))];
      state.acked += Math.ceil(next() * (state.seq - state.acked));
      return ['journalAck', state.acked];
    }
    case 'meta':
      return ['metaPut', `m${Math.floor(next() * 4)}`, value];
  }
}

async function tables(db: EmbeddedDatabase): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  for (const [table, sql] of Object.entries(COLUMNS)) {
    const rows = await db.query<Record<string, unknown>>(sql);
    out[table] = rows.map((r) => Object.values(r)).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }
  return out;
}

function modelTables(model: Model): Record<string, unknown[][]> {
  const out: Record<string, unknown[][]> = {};
  for (const table of Object.keys(COLUMNS)) {
    const rows = [...model.table(table).values()].map((p) => [...p]);
    out[table] = rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }
  return out;
}

describe('applying the redo log', () => {
  jest.setTimeout(60_000);

  it.each([
    [1, 'crash'],
    [2, 'crash'],
    [3, 'close'],
    [4, 'crash'],
  ] as const)(
    'leaves the rows one-by-one SQL would, across commits, applies and a restart (seed %i, then %s)',
    async (seed, end) => {
      const next = random(seed);
      const dir = tempDir();
      // A small bound, so applies also start on size in the middle of the sequence.
      let dataDir = await open(dir, { maxLogBytes: 64 * 1024 });
      const model = new Model();
      const state = { seq: 0, acked: 0, dead: 0 };
      for (let i = 0; i < 3000; i++) {
        const w = randomWrite(next, state);
        dataDir.db.write(...w);
        model.apply(w);
        const r = next();
        if (r < 0.15) await dataDir.db.durable();
        else if (r < 0.17) await dataDir.db.flush();
        if (i === 1500) {
          // Half-way, a restart: what is logged and not applied is replayed under what follows.
          await dataDir.db.durable();
          await crash(dataDir.db);
          dataDir = await open(dir, { maxLogBytes: 64 * 1024 });
        }
      }
      await dataDir.db.durable();
      const { applies, appliedWrites, appliedRows } = dataDir.db.stats();
      expect(applies).toBeGreaterThan(0);
      expect(appliedRows).toBeLessThan(appliedWrites); // rows were written fewer times than they were changed
      if (end === 'crash') await crash(dataDir.db);
      else await dataDir.close();
      const reopened = await open(dir);
      if (end === 'crash') expect(reopened.db.replayed.records).toBeGreaterThan(0);
      expect(await tables(reopened.db)).toEqual(modelTables(model));
      await reopened.close();
    },
  );

  it('never writes a journal entry to the database that was acknowledged before its apply', async () => {
    const dir = tempDir();
    const dataDir = await open(dir);
    const { db } = dataDir;
    await db.query('CREATE TABLE journal_inserts (seq INTEGER NOT NULL)');
    await db.query(
      'CREATE TRIGGER count_journal AFTER INSERT ON journal BEGIN INSERT INTO journal_inserts VALUES (NEW.seq); END',
    );
    const before = db.stats();
    for (let commit = 0; commit < 10; commit++) {
      for (let i = 1; i <= 10; i++) db.write('journalAppend', commit * 10 + i, `{"event":${commit * 10 + i}}`);
      db.write('journalAck', commit * 10 + 8); // handled at once, all but the last two
      await db.durable();
    }
    expect(db.stats().applies).toBe(before.applies); // all of it waits in the log
    await db.flush();
    const after = db.stats();
    expect(after.applies).toBe(before.applies + 1);
    expect(after.appliedWrites - before.appliedWrites).toBe(100 + 10);
    const inserted = (await db.query<{ seq: number }>('SELECT seq FROM journal_inserts ORDER BY seq')).map((r) => r.seq);
    expect(inserted).toEqual([99, 100]); // the only two never acknowledged
    expect(after.appliedRows - before.appliedRows).toBe(1 + 2); // one range delete, two inserts
    expect((await db.query<{ seq: number }>('SELECT seq FROM journal')).map((r) => r.seq)).toEqual([99, 100]);
    await dataDir.close();
  });

  it('applies once applyIntervalMs has passed on the clock, and deletes the applied log', async () => {
    const dir = tempDir();
    const clock = new VirtualClock(0);
    const dataDir = await open(dir, { clock, applyIntervalMs: 1_000 });
    const { db } = dataDir;
    const start = db.stats().applies;
    db.write('kvPut', 'a', '1', 60_000);
    await db.durable();
    expect(db.stats().logBytes).toBeGreaterThan(0);
    expect(logBytesOnDisk(dir)).toBe(db.stats().logBytes);
    clock.advance(999);
    await new Promise((done) => setTimeout(done, 100));
    expect(db.stats().applies).toBe(start);
    clock.advance(1);
    await eventually('the apply', () => db.stats().applies === start + 1, 10_000);
    expect(db.stats().logBytes).toBe(0);
    expect(segments(dir)).toEqual([]);
    await dataDir.close();
  });

  it('keeps the log within maxLogBytes: applies early, and holds commits while it is full', async () => {
    const dir = tempDir();
    const maxLogBytes = 16 * 1024;
    const dataDir = await open(dir, { maxLogBytes });
    const { db } = dataDir;
    const value = 'x'.repeat(1_000);
    let largest = 0;
    for (let i = 0; i < 300; i++) {
      db.write('kvPut', `k${i % 50}`, `${i}:${value}`, 60_000);
      const before = logBytesOnDisk(dir);
      await db.durable();
      largest = Math.max(largest, logBytesOnDisk(dir) - before);
      expect(db.stats().logBytes).toBeLessThanOrEqual(maxLogBytes + largest);
      expect(logBytesOnDisk(dir)).toBeLessThanOrEqual(maxLogBytes + largest);
    }
    expect(db.stats().applies).toBeGreaterThan(5); // on size alone: the clock never moved
    // Many writes in flight at once, while the log is full: commits wait for applies, none is lost.
    const tiny = await open(tempDir(), { maxLogBytes: 1 });
    for (let i = 0; i < 200; i++) tiny.db.write('kvPut', `t${i}`, value, 60_000);
    const waits = Array.from({ length: 20 }, async (_, i) => {
      await new Promise((done) => setTimeout(done, i));
      tiny.db.write('kvPut', `u${i}`, value, 60_000);
      await tiny.db.durable();
    });
    await Promise.all(waits);
    expect(tiny.db.stats().logFull).toBeGreaterThan(0);
    expect(await tiny.db.query("SELECT count(*) AS n FROM kv WHERE key LIKE 't%' OR key LIKE 'u%'")).toEqual([{ n: 220 }]);
    await tiny.close();
    await dataDir.close();
  });

  it('skips a log segment an earlier apply covered (a crash between its commit and the delete)', async () => {
    const dir = tempDir();
    const dataDir = await open(dir);
    const { db } = dataDir;
    db.write('kvPut', 'k', 'old', 60_000);
    await db.durable();
    const [first] = segments(dir);
    copyFileSync(join(dir, first!), join(dir, `${first}.copy`));
    await db.flush();
    db.write('kvPut', 'k', 'new', 60_000);
    await db.durable();
    await db.flush();
    await dataDir.close();
    copyFileSync(join(dir, `${first}.copy`), join(dir, first!)); // the delete that did not reach the disk
    const again = await open(dir);
    expect(again.db.replayed.records).toBe(0);
    expect(await again.db.query("SELECT value FROM kv WHERE key = 'k'")).toEqual([{ value: 'new' }]);
    expect(segments(dir)).toEqual([]);
    await again.close();
  });
});
