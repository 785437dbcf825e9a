/**
 * Where events that kept failing in the pipeline wait for an operator: the event dead-letter store
 * (docs/reliability.md). Letters are opaque text under an id; the store only orders and bounds them.
 *
 * Semantics every adapter keeps (the contract suite in test/store/event-dead-letters pins them):
 * - Bounded: at most `maxCount` letters and `maxBytes` bytes of letter text (UTF-8); `put` evicts the
 *   oldest letters until both hold. A letter larger than `maxBytes` by itself is refused (RangeError).
 * - `put` with an id already held replaces that letter, which then counts as the newest.
 * - Every operation is atomic, also across replicas sharing one store: two replicas that `take` at
 *   once never both get the same letter.
 */
export interface EventDeadLetterStore {
  /** Adds (or replaces) a letter; resolves with how many older letters were evicted to make room. */
  put(id: string, letter: string): Promise<number>;
  /** Up to `limit` letters, newest first. */
  list(limit: number): Promise<StoredLetter[]>;
  /**
   * Removes and returns letters: those with the given ids that exist, or, without ids, the oldest
   * `limit`. Oldest first.
   */
  take(ids: readonly string[] | undefined, limit: number): Promise<StoredLetter[]>;
  size(): Promise<{ count: number; bytes: number }>;
}

export interface StoredLetter {
  id: string;
  letter: string;
}

export interface EventDeadLetterBounds {
  maxCount: number;
  maxBytes: number;
}

export function tooLarge(bytes: number, bounds: EventDeadLetterBounds): RangeError {
  return new RangeError(`dead letter of ${bytes} bytes exceeds the store's ${bounds.maxBytes} bytes`);
}
