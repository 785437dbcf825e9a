'use strict';
/**
 * Runs the `falconer` CLI straight from its TypeScript sources, compiled on load by swc, so the
 * multi-process tests exercise the code under test without a build step.
 *   node test/integration/run-falconer.js serve -c config.yaml
 */
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: { target: 'es2023', parser: { syntax: 'typescript' } },
  });
  module._compile(code, filename);
};

require('../../src/cli/main.ts')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exitCode = 2;
    },
  );
