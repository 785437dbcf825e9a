import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import type { DataDir } from '../store/data-dir';
import type { EmbeddedDatabase } from '../store/embedded-db';
import { MemoryBus, type MemoryBusOptions } from './memory';
import type { BusHealth, ConsumerProgress, EventBus } from './port';

/**
 * The embedded bus with a journal in the data dir: the memory bus's queue (bounded, one consumer,
 * per-key order, 503 when full), with every accepted event appended to the journal and synced before
 * `publish` resolves, so a 202 means the event survives `kill -9`. Appends are group-committed with
 * everything else the database writes (see EmbeddedDatabase). A handled batch is deleted from the
 * journal in the same ordered stream as the state changes its handling made; after a restart the
 * events still in the journal are delivered again, first (at-least-once: the pipeline's `seen:` keys
 * and the notification records make the redo post nothing twice).
 */
export class JournalBus implements EventBus {
  private readonly memory: MemoryBus;
  /** Journal positions of the queued events, in delivery order. */
  private seqs: number[] = [];
  private head = 0;
  private nextSeq: number;

  private readonly db: EmbeddedDatabase;

  /** Opens the journal of `dataDir`: the events it still holds are delivered first, once `consume` is called. */
  constructor(clock: Clock, dataDir: DataDir, options: Omit<MemoryBusOptions, 'journal'>) {
    this.db = dataDir.db;
    this.memory = new MemoryBus(clock, {
      ...options,
      journal: { append: (events) => this.append(events), handled: (count) => this.handled(count) },
    });
    this.nextSeq = dataDir.take('journalNext');
    const recovered = dataDir.take('journal');
    for (const r of recovered) this.seqs.push(r.seq);
    this.memory.restore(recovered.map((r) => JSON.parse(r.body) as SecurityEvent));
  }

  /** Events recovered from the journal at start-up and not handled yet, plus those published since. */
  depth(): number {
    return this.memory.depth();
  }

  publish(events: SecurityEvent[]): Promise<void> {
    return this.memory.publish(events);
  }

  consume(handler: (events: SecurityEvent[]) => Promise<void>): Promise<void> {
    return this.memory.consume(handler);
  }

  progress(): ConsumerProgress {
    return this.memory.progress();
  }

  capacity(): number {
    return this.memory.capacity();
  }

  health(): BusHealth {
    const db = this.db.health();
    if (!db.ok) return db;
    return this.memory.health();
  }

  drain(): Promise<void> {
    return this.memory.drain();
  }

  async close(): Promise<void> {
    await this.memory.close();
    await this.db.durable().catch(() => undefined);
  }

  private append(events: SecurityEvent[]): Promise<void> {
    for (const event of events) {
      const seq = this.nextSeq++;
      this.seqs.push(seq);
      this.db.write('journalAppend', seq, JSON.stringify(event));
    }
    this.db.put('journal.next', 'metaPut', 'journal.next', String(this.nextSeq));
    return this.db.durable();
  }

  private handled(count: number): void {
    this.head += count;
    this.db.put('journal.ack', 'journalAck', this.seqs[this.head - 1]!);
    if (this.head > 4096 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}
