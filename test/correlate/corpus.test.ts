import type { Attribution } from '../../src/core/alert';
import { harness } from './harness';
import { SCENARIOS, type Expected } from './scenarios';

interface Outcome {
  scenario: string;
  event: string;
  expected: Expected;
  got: Attribution | undefined;
}

async function run(): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const s of SCENARIOS) {
    const h = harness();
    // Each item arrives on its own, in the stream's order (out-of-order streams arrive out of order).
    for (const item of s.stream) await h.feed([item]);
    for (const [event, expected] of Object.entries(s.expect)) {
      const alert = h.alertOf(event);
      if (!alert) throw new Error(`${s.name}: no alert for runtime event ${event}`);
      outcomes.push({ scenario: s.name, event, expected, got: alert.attribution });
    }
  }
  return outcomes;
}

describe('attribution on the scenario corpus', () => {
  let outcomes: Outcome[];
  beforeAll(async () => {
    outcomes = await run();
  });

  it('has at least 40 event streams', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(40);
  });

  it('reaches precision ≥ 0.95 and recall ≥ 0.9 (printed)', () => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    const wrong: string[] = [];
    for (const o of outcomes) {
      const want = o.expected && 'user' in o.expected ? o.expected.user : undefined;
      const got = o.got?.user ?? undefined;
      if (got !== undefined && got === want) tp++;
      else {
        if (got !== undefined) fp++;
        if (want !== undefined) fn++;
        if (got !== undefined || want !== undefined)
          wrong.push(`${o.scenario} / ${o.event}: want ${want ?? '-'}, got ${got ?? '-'}`);
      }
    }
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    process.stdout.write(
      `\nattribution corpus: ${SCENARIOS.length} streams, ${outcomes.length} runtime alerts: precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)} (tp ${tp}, fp ${fp}, fn ${fn})\n` +
        wrong.map((w) => `  miss: ${w}\n`).join(''),
    );
    expect(precision).toBeGreaterThanOrEqual(0.95);
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });

  it('reports every ambiguous case as ambiguous, with the candidates', () => {
    const ambiguous = outcomes.filter((o) => o.expected && 'ambiguous' in o.expected);
    expect(ambiguous.length).toBeGreaterThanOrEqual(3);
    for (const o of ambiguous) {
      expect({
        case: o.scenario,
        confidence: o.got?.confidence,
        user: o.got?.user,
        candidates: o.got?.candidates.map((c) => c.user),
      }).toEqual({
        case: o.scenario,
        confidence: 'ambiguous',
        user: null,
        candidates: (o.expected as { ambiguous: string[] }).ambiguous,
      });
    }
  });

  it('says nothing where nothing attributes, and the expected confidence where one is given', () => {
    for (const o of outcomes) {
      if (o.expected === null) expect({ case: o.scenario, got: o.got }).toEqual({ case: o.scenario, got: undefined });
      else if ('confidence' in o.expected && o.expected.confidence)
        expect({ case: o.scenario, confidence: o.got?.confidence }).toEqual({
          case: o.scenario,
          confidence: o.expected.confidence,
        });
    }
  });
});
