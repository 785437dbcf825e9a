import { ensureUiBuilt } from './support/browser';

/** The browser project's suites drive the built console: build it once per run when it is stale. */
export default async function globalSetup(): Promise<void> {
  ensureUiBuilt((line) => process.stderr.write(`\n${line}\n`));
}
