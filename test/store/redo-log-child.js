'use strict';
/**
 * A process that opens a data dir with its background apply held off, makes `count` commits of one
 * write each (`metaPut k<i> v<i>`), prints "logged" once they are all synced to the redo log, and
 * waits to be killed:  node test/store/redo-log-child.js <dataDir> <count>
 * Compiled from the TypeScript sources by swc on load, as test/integration/run-falconer.js does.
 */
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    module: { type: 'commonjs' },
    jsc: { target: 'es2023', parser: { syntax: 'typescript' } },
  });
  module._compile(code, filename);
};

const { DataDir } = require('../../src/store/data-dir.ts');

async function main() {
  const [dir, count] = process.argv.slice(2);
  const dataDir = await DataDir.open(dir, 0, 5_000, { applyIntervalMs: 3_600_000 });
  if (typeof dataDir === 'string') throw new Error(dataDir);
  for (let i = 0; i < Number(count); i++) {
    dataDir.db.write('metaPut', `k${i}`, `v${i}`);
    await dataDir.db.durable();
  }
  process.stdout.write(`logged ${JSON.stringify(dataDir.db.stats())}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
