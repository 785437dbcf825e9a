/** The label value every value beyond a metric's cap is counted under. */
export const OTHER = 'other';

/**
 * Bounds the distinct values of one event-derived metric label (a Falco rule name comes from the event
 * itself): the first `limit` values seen are kept as they are, every later new value is folded into
 * `other`, and each fold is reported so an operator sees that it happens. Without it, made-up values
 * grow /metrics, and prom-client's memory, for the life of the process.
 */
export class LabelCap {
  private readonly kept = new Set<string>();

  constructor(
    private readonly limit: number,
    private readonly onFold: () => void,
  ) {}

  value(v: string): string {
    if (this.kept.has(v)) return v;
    if (this.kept.size < this.limit) {
      this.kept.add(v);
      return v;
    }
    this.onFold();
    return OTHER;
  }
}
