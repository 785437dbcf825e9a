import { TimeSlice } from '../../src/core/time-slice';

describe('TimeSlice', () => {
  it('resolves in microtasks within the slice, and lets the event loop turn once it is used up', async () => {
    const slice = new TimeSlice(20);
    let turned = false;
    setImmediate(() => (turned = true));
    await slice.yield();
    expect(turned).toBe(false); // still within the first 20 ms
    const until = performance.now() + 25;
    while (performance.now() < until);
    await slice.yield();
    expect(turned).toBe(true);
    let turnedAgain = false;
    setImmediate(() => (turnedAgain = true));
    await slice.yield(); // a new slice started
    expect(turnedAgain).toBe(false);
  });
});
