import { CRITICAL_POD_RULE, Inhibitor } from '../../src/alert/inhibit';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { MemoryStateStore } from '../../src/store/memory';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

const alert = (fingerprint: string, labels: Record<string, string>): Alert =>
  alertOf(falcoSecurityEvent(), { fingerprint, labels });

function setup(rules = [CRITICAL_POD_RULE]) {
  const clock = new VirtualClock(0);
  return { clock, inhibitor: new Inhibitor(rules, new MemoryStateStore(clock), 5 * 60_000) };
}

describe('inhibition (Alertmanager semantics)', () => {
  const pod = { cluster: 'prod', namespace: 'shop', pod: 'web-1' };

  it('a critical alert on a pod mutes the lower alerts of that pod, while it fires', async () => {
    const { clock, inhibitor } = setup();
    const critical = alert('crit', { ...pod, severity: 'critical' });
    await inhibitor.observe(critical);
    expect(await inhibitor.inhibitedBy(alert('low', { ...pod, severity: 'warning' }))).toEqual(['crit']);
    expect(await inhibitor.inhibitedBy(alert('other-pod', { ...pod, pod: 'web-2', severity: 'warning' }))).toEqual([]);
    expect(await inhibitor.inhibitedBy(alert('crit2', { ...pod, severity: 'critical' }))).toEqual([]); // not a target
    clock.advance(5 * 60_000); // the source's quiet period ends: it no longer fires
    expect(await inhibitor.inhibitedBy(alert('low', { ...pod, severity: 'warning' }))).toEqual([]);
  });

  it('does not treat pod-less alerts as one pod', async () => {
    const { inhibitor } = setup();
    await inhibitor.observe(alert('crit', { cluster: 'prod', namespace: 'shop', severity: 'critical' }));
    expect(await inhibitor.inhibitedBy(alert('low', { cluster: 'prod', namespace: 'shop', severity: 'info' }))).toEqual([]);
  });

  it('reads source_matchers, target_matchers, legacy match forms and equal (absent on both sides = equal)', async () => {
    const { inhibitor } = setup([
      { source_matchers: ['alertname="NodeDown"'], target_match_re: { alertname: 'Pod.*' }, equal: ['node', 'zone'] },
    ]);
    await inhibitor.observe(alert('node', { alertname: 'NodeDown', node: 'n1' }));
    expect(await inhibitor.inhibitedBy(alert('t1', { alertname: 'PodCrash', node: 'n1' }))).toEqual(['node']); // zone absent on both
    expect(await inhibitor.inhibitedBy(alert('t2', { alertname: 'PodCrash', node: 'n1', zone: 'a' }))).toEqual([]);
    expect(await inhibitor.inhibitedBy(alert('t3', { alertname: 'PodCrash', node: 'n2' }))).toEqual([]);
    expect(await inhibitor.inhibitedBy(alert('t4', { alertname: 'XPodCrash', node: 'n1' }))).toEqual([]); // anchored
  });

  it('marks and reads in the same turn with an in-process store, and through set/get without peek (Redis)', async () => {
    const { inhibitor } = setup();
    const critical = alert('crit', { ...pod, severity: 'critical' });
    expect(inhibitor.observe(critical)).toBeUndefined();
    expect(inhibitor.inhibitedBy(alert('low', { ...pod, severity: 'warning' }))).toEqual(['crit']);

    const clock = new VirtualClock(0);
    const memory = new MemoryStateStore(clock);
    const remote = Object.assign(Object.create(memory) as MemoryStateStore, { peek: undefined, setNow: undefined });
    const viaRemote = new Inhibitor([CRITICAL_POD_RULE], remote, 5 * 60_000);
    await viaRemote.observe(critical);
    const answer = viaRemote.inhibitedBy(alert('low', { ...pod, severity: 'warning' }));
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toEqual(['crit']);
    // The same mark key as the in-process path wrote: replicas of either kind read each other's marks.
    expect(
      new Inhibitor([CRITICAL_POD_RULE], memory, 5 * 60_000).inhibitedBy(alert('low', { ...pod, severity: 'info' })),
    ).toEqual(['crit']);
  });

  it('never lets an alert inhibit itself', async () => {
    const { inhibitor } = setup([{ source_matchers: ['team="a"'], target_matchers: ['team="a"'], equal: [] }]);
    const a = alert('same', { team: 'a' });
    await inhibitor.observe(a);
    expect(await inhibitor.inhibitedBy(a)).toEqual([]);
    expect(await inhibitor.inhibitedBy(alert('other', { team: 'a' }))).toEqual(['same']);
  });
});
