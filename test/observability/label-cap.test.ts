import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import { LabelCap, OTHER } from '../../src/observability/label-cap';
import { MAX_LABEL_VALUES } from '../../src/observability/metrics';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

describe('LabelCap', () => {
  it('keeps the first values, folds later new ones into "other" and reports each fold', () => {
    let folds = 0;
    const cap = new LabelCap(2, () => folds++);
    expect([cap.value('a'), cap.value('b'), cap.value('a'), cap.value('c'), cap.value('d'), cap.value('b')]).toEqual([
      'a',
      'b',
      'a',
      OTHER,
      OTHER,
      'b',
    ]);
    expect(folds).toBe(2);
  });
});

describe('falconer_alerts_total with made-up Falco rule names', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer();
  });
  afterAll(() => f.stop());

  const metrics = async () => (await fetch(`${f.url}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix)) ?? `${prefix} (absent)`;

  it(`keeps at most ${MAX_LABEL_VALUES} rule values and counts the rest as other`, async () => {
    const rules = 3 * MAX_LABEL_VALUES;
    for (let i = 0; i < rules; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          post(
            `${f.url}/v1/events/falco`,
            JSON.stringify(falcoEvent({ uuid: `made-up-${i + k}`, rule: `made-up rule ${i + k} ${'x'.repeat(200)}` })),
          ).then((r) => expect(r.status).toBe(202)),
        ),
      );
    }
    // All of them handled first, however long a loaded box takes (1500 alerts: 4 s alone, over 20 s
    // with both cores busy); then the count is checked.
    await (f.bus as MemoryBus).drain();
    await eventually(async () => {
      const text = await metrics();
      expect(line(text, 'falconer_metric_labels_folded_total{metric="falconer_alerts_total"}')).toBe(
        `falconer_metric_labels_folded_total{metric="falconer_alerts_total"} ${rules - MAX_LABEL_VALUES}`,
      );
    }, 20_000);
    const text = await metrics();
    const ruleSeries = text.split('\n').filter((l) => l.startsWith('falconer_alerts_total{'));
    expect(ruleSeries).toHaveLength(MAX_LABEL_VALUES + 1);
    expect(line(text, 'falconer_alerts_total{rule="other"')).toMatch(new RegExp(` ${rules - MAX_LABEL_VALUES}$`));
    // Every alert is still counted: kept values plus other.
    const total = ruleSeries.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(total).toBe(rules);
  }, 120_000);
});
