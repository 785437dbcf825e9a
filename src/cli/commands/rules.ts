import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandRegistrar } from '../main';
import { ruleDirs, compileRuleSources, BUILTIN_RULES_DIR } from '../../detect/engine';
import { readFixtures, runFixtures } from '../../detect/fixtures';
import { readRuleSources } from '../../detect/rules/load';
import { formatProblem } from '../../detect/rules/types';
import type { RuleSet } from '../../detect/rules/ruleset';
import {
  BUILTIN_CHAINS_DIR,
  loadChains,
  readChainFixtures,
  runChainFixtures,
  type ChainFixtureResult,
} from '../../correlate/chains';

interface RulesOptions {
  builtin: boolean;
}

/** Loads the built-in pack (unless --no-builtin) plus the given folders; prints problems. */
function load(dirs: string[], opts: RulesOptions): { ruleSet?: RuleSet; folders: string[] } {
  const folders = ruleDirs({ builtin: opts.builtin, dirs: dirs.map((d) => resolve(d)) });
  let result;
  try {
    result = compileRuleSources(readRuleSources(folders));
  } catch (err) {
    process.stderr.write(`cannot read rules: ${(err as Error).message}\n`);
    return { folders };
  }
  for (const p of result.problems) process.stderr.write(formatProblem(p) + '\n');
  return { ruleSet: result.ruleSet, folders };
}

export const registerRules: CommandRegistrar = (program, exit) => {
  const rules: Command = program.command('rules').description('check and test detection rules');

  rules
    .command('lint')
    .description('check rule folders (the built-in pack plus DIRs) without running anything')
    .argument('[dirs...]', 'user rule folders, applied after the built-in pack')
    .option('--no-builtin', 'do not load the built-in pack')
    .action((dirs: string[], opts: RulesOptions) => {
      const { ruleSet } = load(dirs, opts);
      if (!ruleSet) return exit(1);
      const d = ruleSet.definitions;
      const enabled = ruleSet.rules.filter((r) => r.def.enabled).length;
      process.stdout.write(`ok: ${ruleSet.size} rules (${enabled} enabled), ${d.macros.size} macros, ${d.lists.size} lists\n`);
      exit(0);
    });

  rules
    .command('test')
    .description("run every rule's fixtures (DIR/fixtures/*.yaml); exits 1 on any mismatch")
    .argument('[dirs...]', 'user rule folders, applied after the built-in pack')
    .option('--no-builtin', 'do not load the built-in pack')
    .option('-v, --verbose', 'print passing fixtures too')
    .action((dirs: string[], opts: RulesOptions & { verbose?: boolean }) => {
      const { ruleSet, folders } = load(dirs, opts);
      if (!ruleSet) return exit(1);
      let results;
      try {
        results = runFixtures(
          ruleSet,
          readFixtures(folders),
          // Every rule needs a firing and a near-miss fixture; built-in ones are checked when the pack is loaded.
          ruleSet.rules
            .filter((r) => opts.builtin || !resolve(r.def.origin.file).startsWith(BUILTIN_RULES_DIR))
            .map((r) => r.def.id),
        );
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return exit(1);
      }
      let chainResults: ChainFixtureResult[];
      try {
        // Chains live in `chains/` of each rule folder, their fixtures in `chains/fixtures/`.
        const chainFolders = [
          ...(opts.builtin ? [BUILTIN_CHAINS_DIR] : []),
          ...dirs.map((d) => join(resolve(d), 'chains')).filter((d) => existsSync(d)),
        ];
        chainResults = runChainFixtures(loadChains(chainFolders), readChainFixtures(chainFolders));
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return exit(1);
      }
      const all = [
        ...results.map((r) => ({ ...r, what: r.rule })),
        ...chainResults.map((r) => ({ ...r, what: `chain ${r.chain}` })),
      ];
      const failed = all.filter((r) => !r.ok);
      for (const r of opts.verbose ? all : failed) {
        const where = r.file ? ` (${r.file})` : '';
        process.stdout.write(
          `${r.ok ? 'PASS' : 'FAIL'} ${r.what} ${r.kind}: ${r.name}${where}${r.problem ? ' — ' + r.problem : ''}\n`,
        );
      }
      process.stdout.write(`${all.length - failed.length} passed, ${failed.length} failed\n`);
      exit(failed.length ? 1 : 0);
    });
};
