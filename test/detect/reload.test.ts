import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleSet, RuleEngine } from '../../src/detect/engine';
import { reloadRulesOnSighup } from '../../src/detect/reload';
import { auditEvent, auditRule } from './helpers';

test('SIGHUP swaps in the new rules; a broken folder keeps the running set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-reload-'));
  writeFileSync(join(dir, 'r.yaml'), auditRule('first', 'true'));
  const sources = { builtin: false, dirs: [dir] };
  const engine = new RuleEngine(loadRuleSet(sources));
  const signals = new EventEmitter();
  const log = { info: jest.fn(), error: jest.fn() };
  const stop = reloadRulesOnSighup(engine, sources, log, signals as unknown as NodeJS.Process);
  const fired = () => engine.detect(auditEvent()).map((d) => d.ruleId);

  writeFileSync(join(dir, 'r.yaml'), auditRule('second', 'true'));
  signals.emit('SIGHUP');
  expect(fired()).toEqual(['second']);
  expect(log.info).toHaveBeenCalledWith('rules reloaded: 1 rules');

  writeFileSync(join(dir, 'r.yaml'), auditRule('third', 'verb =='));
  signals.emit('SIGHUP');
  expect(fired()).toEqual(['second']);
  expect(log.error).toHaveBeenCalledWith(expect.stringMatching(/keeping the running set: .*r\.yaml:2: rule "third"/s));

  stop();
  expect(signals.listenerCount('SIGHUP')).toBe(0);
});
