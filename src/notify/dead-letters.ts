import type { Alert } from '../core/alert';
import type { DataDir } from '../store/data-dir';
import type { EmbeddedDatabase } from '../store/embedded-db';

export interface DeadLetter {
  receiver: string;
  /** `amend`: an alert changed after the fact (its attribution, its incident). */
  kind: 'send' | 'update' | 'amend' | 'resolve';
  fingerprint: string;
  rule: string;
  error: string;
  attempts: number;
  at: number;
  alert: Alert;
}

/** Notifications that could not be delivered, oldest first, bounded; an operator reads and replays them. */
export class DeadLetters {
  protected letters: DeadLetter[] = [];

  constructor(private readonly capacity: number) {}

  /** Adds a letter; returns the oldest one when the store was full and it had to go. */
  add(letter: DeadLetter): DeadLetter | undefined {
    this.letters.push(letter);
    return this.letters.length > this.capacity ? this.evictOldest() : undefined;
  }

  list(): readonly DeadLetter[] {
    return this.letters;
  }

  /** Empties the store and returns what it held (for a replay). */
  takeAll(): DeadLetter[] {
    return this.letters.splice(0);
  }

  get size(): number {
    return this.letters.length;
  }

  protected evictOldest(): DeadLetter | undefined {
    return this.letters.shift();
  }
}

/** Dead letters kept in the data dir too, so a restart does not forget what was never delivered. */
export class DurableDeadLetters extends DeadLetters {
  private ids: number[] = [];
  private nextId: number;

  private readonly db: EmbeddedDatabase;

  constructor(capacity: number, dataDir: DataDir) {
    super(capacity);
    this.db = dataDir.db;
    const loaded = dataDir.take('deadLetters');
    for (const row of loaded) {
      this.letters.push(JSON.parse(row.body) as DeadLetter);
      this.ids.push(row.id);
    }
    this.nextId = (loaded.at(-1)?.id ?? 0) + 1;
    while (this.size > capacity) this.evictOldest();
  }

  override add(letter: DeadLetter): DeadLetter | undefined {
    const id = this.nextId++;
    this.ids.push(id);
    this.db.write('deadPut', id, JSON.stringify(letter));
    return super.add(letter);
  }

  override takeAll(): DeadLetter[] {
    this.ids = [];
    this.db.write('deadClear');
    return super.takeAll();
  }

  protected override evictOldest(): DeadLetter | undefined {
    const id = this.ids.shift();
    if (id !== undefined) this.db.write('deadDelete', id);
    return super.evictOldest();
  }
}
