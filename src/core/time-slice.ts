/**
 * Cooperative yielding for work that runs on the event loop without I/O of its own (in-memory state
 * answers in microtasks): `yield()` resolves at once within the current slice, and after it on the next
 * turn of the event loop, so HTTP requests, timers and signals get in between. Wall time, not the clock
 * port: this is about sharing the CPU, not about when anything is due.
 */
export class TimeSlice {
  private started = performance.now();

  constructor(private readonly ms: number) {}

  async yield(): Promise<void> {
    if (performance.now() - this.started < this.ms) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.started = performance.now();
  }
}
