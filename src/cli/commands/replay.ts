import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandRegistrar } from '../main';
import { RuleError } from '../../core/errors';
import { loadRuleSet, RuleEngine } from '../../detect/engine';
import { eventsInText, Replay } from '../../detect/replay';
import { systemClock } from '../../core/clock';
import { ClusterStates, loadSnapshot } from '../../enrich/cluster-state';
import { createEnricher } from '../../enrich/enricher';
import type { Enricher } from '../../enrich/port';
import { validateConfig } from '../../config/load';
import { correlationFromConfig } from '../../correlate';
import { MemoryStateStore } from '../../store/memory';

interface ReplayOptions {
  rules: string[];
  builtin: boolean;
  cluster: string;
  enrich: boolean;
  state: string[];
  correlate: boolean;
}

export const registerReplay: CommandRegistrar = (program, exit) => {
  program
    .command('replay')
    .description(
      'run recorded events (audit log JSON lines, EventList documents, Falco JSON lines) through detection ' +
        'offline; prints one deduplicated alert per line as JSON and sends nothing',
    )
    .argument('<files...>', 'files to replay, in order')
    .option(
      '-r, --rules <dir>',
      'user rule folder (repeatable), applied after the built-in pack',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--no-builtin', 'do not load the built-in pack')
    .option('--cluster <name>', 'cluster name for the events', 'replay')
    .option('--enrich', 'add the enrichment (subject, pod posture, network exposure) to each alert')
    .option('--no-correlate', 'no attribution of runtime alerts and no incidents')
    .option(
      '--state <file>',
      'cluster snapshot (kubectl get ... -A -o json) for --enrich; repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .action(async (files: string[], opts: ReplayOptions) => {
      let engine: RuleEngine;
      try {
        engine = new RuleEngine(loadRuleSet({ builtin: opts.builtin, dirs: opts.rules.map((d) => resolve(d)) }));
      } catch (err) {
        if (!(err instanceof RuleError)) throw err;
        process.stderr.write(err.message + '\n');
        return exit(2);
      }
      let enricher: Enricher | undefined;
      if (opts.enrich) {
        const states = new ClusterStates();
        for (const file of opts.state) {
          try {
            loadSnapshot(file, states.get(opts.cluster));
          } catch (err) {
            process.stderr.write(`cannot load state ${file}: ${(err as Error).message}\n`);
            return exit(2);
          }
        }
        enricher = createEnricher({ states, clock: systemClock, waitForStateMs: 0 });
      }
      const replay = new Replay(engine, { cluster: opts.cluster, receivedAt: Date.now(), maxFieldLength: 16 * 1024 }, enricher);
      for (const file of files) {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
          return exit(1);
        }
        for (const value of eventsInText(text)) replay.add(value);
      }
      // Correlation with the default settings, on a store of its own; the wall clock plays no part.
      const correlation = opts.correlate
        ? correlationFromConfig(validateConfig({}), {
            store: new MemoryStateStore(systemClock),
            ...(enricher?.subject ? { subject: enricher.subject.bind(enricher) } : {}),
            amend: async () => undefined,
          })
        : undefined;
      const { alerts, incidents } = correlation
        ? await replay.correlate(correlation.correlator, correlation.incidents)
        : { alerts: await replay.enrichedResults(), incidents: [] };
      for (const alert of alerts) process.stdout.write(JSON.stringify(alert) + '\n');
      for (const incident of incidents) process.stdout.write(JSON.stringify(incident) + '\n');
      const s = replay.stats;
      const errors = engine.ruleSet.stats().filter((r) => r.stats.errors > 0);
      process.stderr.write(
        `replayed ${s.events} events (${s.skipped} skipped, ${s.duplicates} duplicates): ${s.detections} detections, ${replay.results().length} alerts, ${incidents.length} incidents\n`,
      );
      for (const r of errors)
        process.stderr.write(`rule ${r.id}: ${r.stats.errors} evaluation errors (last: ${r.stats.lastError})\n`);
      exit(0);
    });
};
