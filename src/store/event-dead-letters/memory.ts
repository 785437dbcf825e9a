import { tooLarge, type EventDeadLetterBounds, type EventDeadLetterStore, type StoredLetter } from './port';

/** The event dead-letter store in process memory (embedded mode). A Map keeps insertion order. */
export class MemoryEventDeadLetterStore implements EventDeadLetterStore {
  private readonly letters = new Map<string, string>();
  private bytes = 0;

  constructor(private readonly bounds: EventDeadLetterBounds) {}

  async put(id: string, letter: string): Promise<number> {
    const size = Buffer.byteLength(letter);
    if (size > this.bounds.maxBytes) throw tooLarge(size, this.bounds);
    this.remove(id);
    this.letters.set(id, letter);
    this.bytes += size;
    let evicted = 0;
    for (const oldest of this.letters.keys()) {
      if (this.letters.size <= this.bounds.maxCount && this.bytes <= this.bounds.maxBytes) break;
      this.remove(oldest);
      evicted++;
    }
    return evicted;
  }

  async list(limit: number): Promise<StoredLetter[]> {
    return [...this.letters]
      .slice(-Math.max(0, limit))
      .reverse()
      .map(([id, letter]) => ({ id, letter }));
  }

  async take(ids: readonly string[] | undefined, limit: number): Promise<StoredLetter[]> {
    const wanted = ids && new Set(ids);
    const held = [...this.letters.keys()];
    const chosen = wanted ? held.filter((id) => wanted.has(id)) : held.slice(0, Math.max(0, limit));
    return chosen.map((id) => {
      const letter = this.letters.get(id)!;
      this.remove(id);
      return { id, letter };
    });
  }

  async size(): Promise<{ count: number; bytes: number }> {
    return { count: this.letters.size, bytes: this.bytes };
  }

  private remove(id: string): void {
    const old = this.letters.get(id);
    if (old === undefined) return;
    this.letters.delete(id);
    this.bytes -= Buffer.byteLength(old);
  }
}
