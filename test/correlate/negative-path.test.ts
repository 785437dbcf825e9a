import { VirtualClock } from '../../src/core/clock';
import { validateConfig } from '../../src/config/load';
import { correlationFromConfig } from '../../src/correlate';
import { loadRuleSet, RuleEngine } from '../../src/detect/engine';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { MemoryStateStore } from '../../src/store/memory';
import { runtime, session } from './streams';

const ctx = { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096 };
const engine = new RuleEngine(loadRuleSet({ builtin: true }));

/** A memory store that counts the session reads (`corr:s:` keys). */
class CountingStore extends MemoryStateStore {
  sessionReads = 0;
  override get(key: string) {
    if (key.startsWith('corr:s:')) this.sessionReads++;
    return super.get(key);
  }
}

describe('the fast negative path (pods without sessions)', () => {
  it('reads the store once for a pod without sessions, again after a session or a rebalance, and attributes then', async () => {
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    const store = new CountingStore(clock);
    let generation = 0;
    const replica = (withGeneration: boolean) =>
      correlationFromConfig(
        validateConfig({ cluster: 'prod', correlation: { incidents: { enabled: false } } }),
        { store, amend: async () => undefined, ...(withGeneration ? { generation: () => generation } : {}) },
        [],
      )!.correlator;
    const a = replica(true);
    const b = replica(false);
    const shell = (id: string, at: number) => engine.detect(normaliseFalco(runtime({ id, at }), ctx))[0]!;

    expect((await a.correlate(shell('r1', 1000), {})).attribution).toBeUndefined();
    expect((await a.correlate(shell('r2', 2000), {})).attribution).toBeUndefined();
    expect(store.sessionReads).toBe(1);

    // The pod's partition moved to the other replica (a rebalance), which sees alice's exec.
    for (const e of session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 3000 }))
      await b.observe(normaliseAudit(e, ctx));
    generation++;
    expect((await a.correlate(shell('r3', 4000), {})).attribution?.user).toBe('alice@example.com');

    // A session observed here drops the pod from the negative path at once.
    for (const e of session({ id: 'e2', user: 'bob@example.com', pod: 'web-1', container: 'app', start: 5000 }))
      await a.observe(normaliseAudit(e, ctx));
    expect((await a.correlate(shell('r4', 6000), {})).attribution?.confidence).toBe('ambiguous');
  });
});
