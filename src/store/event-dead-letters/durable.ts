import type { DataDir } from '../data-dir';
import type { EmbeddedDatabase } from '../embedded-db';
import { tooLarge, type EventDeadLetterBounds, type EventDeadLetterStore, type StoredLetter } from './port';

/**
 * The event dead-letter store of embedded mode with a data dir: the memory store's semantics, with
 * every change written to the data dir in order. A parked event was acknowledged (202) and is gone
 * from the journal, so this is where it must survive a restart.
 */
export class DurableEventDeadLetterStore implements EventDeadLetterStore {
  /** id → letter and its position; a Map keeps insertion order, oldest first. */
  private readonly letters = new Map<string, { letter: string; seq: number; bytes: number }>();
  private bytes = 0;
  private nextSeq: number;
  private readonly db: EmbeddedDatabase;

  constructor(
    private readonly bounds: EventDeadLetterBounds,
    dataDir: DataDir,
  ) {
    this.db = dataDir.db;
    const saved = dataDir.take('parkedEvents');
    for (const row of saved) this.hold(row.id, row.letter, row.seq);
    this.nextSeq = (saved.at(-1)?.seq ?? 0) + 1;
    this.evict(); // the bounds may have shrunk since the last run
  }

  async put(id: string, letter: string): Promise<number> {
    const bytes = Buffer.byteLength(letter);
    if (bytes > this.bounds.maxBytes) throw tooLarge(bytes, this.bounds);
    this.remove(id);
    const seq = this.nextSeq++;
    this.hold(id, letter, seq);
    this.db.write('parkedPut', id, seq, letter);
    return this.evict();
  }

  async list(limit: number): Promise<StoredLetter[]> {
    return [...this.letters]
      .slice(-Math.max(0, limit))
      .reverse()
      .map(([id, { letter }]) => ({ id, letter }));
  }

  async take(ids: readonly string[] | undefined, limit: number): Promise<StoredLetter[]> {
    const wanted = ids && new Set(ids);
    const held = [...this.letters.keys()];
    const chosen = wanted ? held.filter((id) => wanted.has(id)) : held.slice(0, Math.max(0, limit));
    return chosen.map((id) => {
      const { letter } = this.letters.get(id)!;
      this.remove(id);
      this.db.write('parkedDelete', id);
      return { id, letter };
    });
  }

  async size(): Promise<{ count: number; bytes: number }> {
    return { count: this.letters.size, bytes: this.bytes };
  }

  private hold(id: string, letter: string, seq: number): void {
    const bytes = Buffer.byteLength(letter);
    this.letters.set(id, { letter, seq, bytes });
    this.bytes += bytes;
  }

  /** Drops the oldest letters until both bounds hold; returns how many went. */
  private evict(): number {
    let evicted = 0;
    for (const oldest of this.letters.keys()) {
      if (this.letters.size <= this.bounds.maxCount && this.bytes <= this.bounds.maxBytes) break;
      this.remove(oldest);
      this.db.write('parkedDelete', oldest);
      evicted++;
    }
    return evicted;
  }

  private remove(id: string): void {
    const old = this.letters.get(id);
    if (!old) return;
    this.letters.delete(id);
    this.bytes -= old.bytes;
  }
}
