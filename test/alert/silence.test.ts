import { VirtualClock } from '../../src/core/clock';
import { SilenceStore, silenceState } from '../../src/alert/silence';
import { MemoryStateStore } from '../../src/store/memory';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const eq = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });

function setup(options: Partial<ConstructorParameters<typeof SilenceStore>[2]> = {}) {
  const clock = new VirtualClock(T0);
  const store = new MemoryStateStore(clock);
  const changes: string[] = [];
  const silences = new SilenceStore(store, clock, {
    capacity: 3,
    retentionMs: 120 * H,
    cacheMs: 0,
    onChange: (json) => changes.push(json),
    ...options,
  });
  return { clock, store, silences, changes };
}

const valid = (over: Record<string, unknown> = {}) => ({
  matchers: [eq('namespace', 'shop')],
  endsAt: iso(T0 + H),
  createdBy: 'alice',
  comment: 'maintenance',
  ...over,
});

describe('silences (Alertmanager model)', () => {
  it('goes pending → active → expired, and mutes only while active', async () => {
    const { clock, silences } = setup();
    const s = await silences.create(valid({ startsAt: iso(T0 + 10 * 60_000) }));
    expect(s).toMatchObject({ startsAt: iso(T0 + 10 * 60_000), endsAt: iso(T0 + H), createdBy: 'alice', comment: 'maintenance' });
    expect((await silences.get(s.id)).status.state).toBe('pending');
    expect(await silences.mutes({ namespace: 'shop' })).toEqual([]);
    clock.advance(10 * 60_000);
    expect((await silences.get(s.id)).status.state).toBe('active');
    expect(await silences.mutes({ namespace: 'shop', pod: 'x' })).toEqual([s.id]);
    expect(await silences.mutes({ namespace: 'web' })).toEqual([]);
    clock.advance(50 * 60_000);
    expect((await silences.get(s.id)).status.state).toBe('expired');
    expect(await silences.mutes({ namespace: 'shop' })).toEqual([]);
  });

  it('starts a silence whose start is in the past now', async () => {
    const { silences } = setup();
    const s = await silences.create(valid({ startsAt: iso(T0 - H) }));
    expect(s.startsAt).toBe(iso(T0));
  });

  it('expires an active silence now, a pending one before it starts, and refuses an expired one', async () => {
    const { clock, silences } = setup();
    const active = await silences.create(valid());
    const pending = await silences.create(valid({ startsAt: iso(T0 + H / 2) }));
    clock.advance(60_000);
    await silences.expire(active.id);
    await silences.expire(pending.id);
    const [a, p] = [await silences.get(active.id), await silences.get(pending.id)];
    expect([a.status.state, a.endsAt]).toEqual(['expired', iso(T0 + 60_000)]);
    expect([p.status.state, p.startsAt, p.endsAt]).toEqual(['expired', iso(T0 + 60_000), iso(T0 + 60_000)]);
    await expect(silences.expire(active.id)).rejects.toMatchObject({ status: 409 });
    await expect(silences.expire('nope')).rejects.toMatchObject({ status: 404 });
  });

  it.each([
    [{ matchers: [] }, 'at least one matcher'],
    [{ matchers: [eq('bad name', 'x')] }, 'invalid matcher name'],
    [{ matchers: [{ name: 'pod', value: '(', isRegex: true, isEqual: true }] }, 'invalid regular expression'],
    [{ matchers: [{ name: 'pod', value: '.*', isRegex: true, isEqual: true }] }, 'must not match the empty string'],
    [{ matchers: [eq('pod', '')] }, 'must not match the empty string'],
    [{ endsAt: 'tomorrow' }, 'endsAt must be an RFC 3339 time'],
    [{ startsAt: iso(T0 + 2 * H) }, 'endsAt must be after startsAt'],
    [{ endsAt: iso(T0 - 1) }, 'endsAt must be after startsAt'],
    [{ createdBy: '' }, 'createdBy is required'],
    [{ comment: ' ' }, 'comment is required'],
  ])('refuses %j with a 400', async (over, message) => {
    const { silences } = setup();
    await expect(silences.create(valid(over))).rejects.toMatchObject({ status: 400, message: expect.stringContaining(message) });
  });

  it('matches regex and negative matchers as Alertmanager does (anchored, missing label is "")', async () => {
    const { silences } = setup();
    const s = await silences.create(
      valid({
        matchers: [
          { name: 'rule', value: 'Terminal.*', isRegex: true, isEqual: true },
          { name: 'pod', value: 'db-.*', isRegex: true, isEqual: false },
        ],
      }),
    );
    expect(await silences.mutes({ rule: 'Terminal shell in container', pod: 'web-1' })).toEqual([s.id]);
    expect(await silences.mutes({ rule: 'Terminal shell in container' })).toEqual([s.id]);
    expect(await silences.mutes({ rule: 'Terminal shell in container', pod: 'db-0' })).toEqual([]);
    expect(await silences.mutes({ rule: 'A Terminal shell' })).toEqual([]);
  });

  it('is bounded: at most `capacity` live silences, and expired ones are dropped after their retention', async () => {
    const { clock, silences, store } = setup();
    for (let i = 0; i < 3; i++) await silences.create(valid());
    await expect(silences.create(valid())).rejects.toMatchObject({ status: 409 });
    clock.advance(H + 120 * H);
    await silences.create(valid({ endsAt: iso(clock.now() + H) })); // the write drops the three old ones
    expect(await silences.list()).toHaveLength(1);
    expect(JSON.parse((await store.get('silences'))!)).toHaveLength(1);
  });

  it('reports every change (the embedded file mirror) and can be seeded from a saved copy', async () => {
    const first = setup();
    const s = await first.silences.create(valid());
    expect(first.changes).toHaveLength(1);
    const restarted = setup();
    await restarted.silences.seed(first.changes[0]!);
    expect((await restarted.silences.list()).map((x) => [x.id, x.status.state])).toEqual([[s.id, 'active']]);
    expect(await restarted.silences.mutes({ namespace: 'shop' })).toEqual([s.id]);
  });

  it('answers in the same turn from an in-process store, and sees another writer of that store at once', async () => {
    const { clock, store, silences } = setup();
    expect(silences.mutes({ namespace: 'shop' })).toEqual([]); // no silence at all: a plain value, no promise
    const other = new SilenceStore(store, clock, { capacity: 3, retentionMs: 120 * H, cacheMs: 0 });
    const s = await other.create(valid());
    expect(silences.mutes({ namespace: 'shop' })).toEqual([s.id]);
    expect(silences.mutes({ namespace: 'web' })).toEqual([]);
  });

  it('reads through the store when it keeps values elsewhere (no peek: Redis)', async () => {
    const clock = new VirtualClock(T0);
    const memory = new MemoryStateStore(clock);
    const remote = Object.assign(Object.create(memory) as MemoryStateStore, { peek: undefined });
    const silences = new SilenceStore(remote, clock, { capacity: 3, retentionMs: 120 * H, cacheMs: 0 });
    const s = await silences.create(valid());
    const answer = silences.mutes({ namespace: 'shop' });
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toEqual([s.id]);
  });

  it('silenceState reads the times alone', () => {
    expect(silenceState({ startsAt: iso(T0), endsAt: iso(T0 + 1) }, T0)).toBe('active');
    expect(silenceState({ startsAt: iso(T0 + 1), endsAt: iso(T0 + 2) }, T0)).toBe('pending');
    expect(silenceState({ startsAt: iso(T0 - 2), endsAt: iso(T0) }, T0)).toBe('expired');
  });
});
