import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createMetrics } from '../../src/observability/metrics';

const doc = readFileSync(resolve(__dirname, '../../docs/metrics.md'), 'utf8');

/** Every metric Falconer registers, with the scrape-time ones (Kafka, Redis, rules) switched on. */
async function registered(): Promise<{ name: string; labels: string[] }[]> {
  const metrics = createMetrics();
  // The scrape-time families register when switched on; a new `watch*` must be switched on here too.
  expect(
    Object.keys(metrics)
      .filter((k) => k.startsWith('watch'))
      .sort(),
  ).toEqual(['watchDependencies', 'watchParkedEvents', 'watchRules']);
  metrics.watchDependencies(() => ({}));
  metrics.watchRules(() => []);
  metrics.watchParkedEvents(async () => 0);
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix: 'falconer_' });
  const defaultNames = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
  return (await metrics.registry.getMetricsAsJSON())
    .filter((m) => !defaultNames.has(m.name))
    .map((m) => {
      const metric = metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
      return { name: m.name, labels: metric.labelNames ?? [] };
    });
}

/** The table row that names the metric. */
function row(name: string): string | undefined {
  return doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
}

describe('docs/metrics.md', () => {
  it('has a row for every metric Falconer registers, listing its labels', async () => {
    const all = await registered();
    expect(all.map((m) => m.name)).toEqual(
      expect.arrayContaining(['falconer_events_received_total', 'falconer_kafka_consumer_lag']),
    );
    const problems = all.flatMap(({ name, labels }) => {
      const line = row(name);
      if (!line) return [`${name}: no row`];
      const labelCell = line.split('|')[3] ?? '';
      const missing = labels.filter((l) => !labelCell.includes(`\`${l}\``));
      return missing.length ? [`${name}: labels ${missing.join(', ')} not listed`] : [];
    });
    expect(problems).toEqual([]);
  });

  it('lists no metric that does not exist', async () => {
    const names = new Set((await registered()).map((m) => m.name));
    const rows = doc.split('\n').flatMap((line) => /^\| `(falconer_[a-z_]+)` \|/.exec(line)?.[1] ?? []);
    expect(rows.filter((n) => !names.has(n))).toEqual([]);
  });
});
