import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { VirtualClock } from '../../src/core/clock';
import { StreamHub } from '../../src/console/stream';
import { stored } from './history-contract';

/** A response that records what is written and holds it "unsent" until `drain`. */
class FakeResponse extends EventEmitter {
  frames: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  status = 0;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  write(chunk: string) {
    this.frames.push(chunk);
    this.writableLength += chunk.length;
    return true;
  }
  drain() {
    this.writableLength = 0;
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
  end() {
    this.ended = true;
    this.emit('close');
  }
}

const asRes = (r: FakeResponse) => r as unknown as ServerResponse;

describe('console stream hub', () => {
  it('sends matching alert rows and incidents, and pings on the virtual clock', () => {
    const clock = new VirtualClock(0);
    const hub = new StreamHub(clock, { maxSubscribers: 5, maxBufferedBytes: 1e6, pingMs: 15_000 });
    const shop = new FakeResponse();
    const all = new FakeResponse();
    expect(hub.subscribe(asRes(shop), { namespace: 'shop' })).toBe(true);
    expect(hub.subscribe(asRes(all), {})).toBe(true);
    expect(shop.status).toBe(200);
    hub.publishAlert(stored('a', 1));
    hub.publishAlert({ ...stored('b', 2), row: { ...stored('b', 2).row, namespace: 'other' } });
    hub.publishIncident({ id: 'inc-1', severity: 'critical', chain: null, alerts: 2 });
    const events = (r: FakeResponse) => r.frames.filter((f) => f.startsWith('event:')).map((f) => f.split('\n')[0]);
    expect(events(shop)).toEqual(['event: alert', 'event: incident']);
    expect(events(all)).toEqual(['event: alert', 'event: alert', 'event: incident']);
    expect(JSON.parse(shop.frames.find((f) => f.startsWith('event: alert'))!.split('data: ')[1]!).fingerprint).toBe('a');
    clock.advance(15_000);
    expect(all.frames.at(-1)).toBe(': ping\n\n');
    clock.advance(15_000);
    expect(all.frames.filter((f) => f === ': ping\n\n')).toHaveLength(2);
    hub.close();
    expect(all.ended && shop.ended).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses subscribers beyond the bound, and drops one that does not read', () => {
    const clock = new VirtualClock(0);
    const dropped: string[] = [];
    const hub = new StreamHub(
      clock,
      { maxSubscribers: 2, maxBufferedBytes: 2000, pingMs: 15_000 },
      { dropped: (r) => dropped.push(r) },
    );
    const fast = new FakeResponse();
    const slow = new FakeResponse();
    hub.subscribe(asRes(fast), {});
    hub.subscribe(asRes(slow), {});
    expect(hub.subscribe(asRes(new FakeResponse()), {})).toBe(false);
    for (let i = 0; i < 50; i++) {
      hub.publishAlert(stored(`a${i}`, i));
      fast.drain();
    }
    expect(slow.destroyed).toBe(true);
    expect(slow.writableLength).toBeLessThanOrEqual(2000);
    expect(fast.destroyed).toBe(false);
    expect(fast.frames.filter((f) => f.startsWith('event: alert'))).toHaveLength(50);
    expect(dropped).toEqual(['full', 'slow']);
    expect(hub.size).toBe(1);
    expect(hub.subscribe(asRes(new FakeResponse()), {})).toBe(true); // room again
  });
});
