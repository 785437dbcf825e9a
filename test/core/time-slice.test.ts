import { TimeSlice } from '../../src/core/time-slice';

describe('TimeSlice', () => {
  // The slice reads performance.now(): moved by hand here, so a box that schedules this process out
  // between two lines cannot end a slice early.
  let now = 1000;
  beforeEach(() => jest.spyOn(performance, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it('resolves in microtasks within the slice, and lets the event loop turn once it is used up', async () => {
    const slice = new TimeSlice(20);
    let turned = false;
    setImmediate(() => (turned = true));
    now += 19;
    await slice.yield();
    expect(turned).toBe(false); // still within the first 20 ms
    now += 1;
    await slice.yield();
    expect(turned).toBe(true);
    let turnedAgain = false;
    setImmediate(() => (turnedAgain = true));
    now += 19;
    await slice.yield(); // a new slice started when the last one ended
    expect(turnedAgain).toBe(false);
    now += 1;
    await slice.yield();
    expect(turnedAgain).toBe(true);
  });
});
