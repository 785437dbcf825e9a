import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = resolve(__dirname, '..', '..');
export const UI_DIST = join(ROOT, 'dist', 'ui');
/** Screenshots of every page the browser tests visit (gitignored; CI keeps it as an artefact). */
export const ARTIFACTS_DIR = process.env.FALCONER_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts', 'console');

/** Debian's package (scripts/provision.sh installs it); never a browser downloaded by a test tool. */
export const CHROMIUM = process.env.FALCONER_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The flags this kind of machine needs: the background-networking ones stop Chromium from dialling
 * Google's hosts at every start (a closed network refuses them, many at a time). Playwright adds
 * --headless and --no-sandbox (chromiumSandbox: false), and gives every launch a new, empty profile.
 */
const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium; throws (never skips) when provisioning has not put it there. */
export async function launchBrowser(): Promise<Browser> {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: the console's browser tests need it. Run \`bash scripts/provision.sh\` ` +
        `(as root it installs Debian's chromium) or set FALCONER_TEST_CHROMIUM to a Chromium binary.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS });
}

/** Saves a full-page screenshot as `<ARTIFACTS_DIR>/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The UI's sources and build configuration, whichever of them exist. */
function uiSourcesMtime(): number {
  const configs = readdirSync(ROOT).filter((f) => /^vite\.config\.|^tsconfig.*\.json$|^package(-lock)?\.json$/.test(f));
  return Math.max(newest(join(ROOT, 'ui')), ...configs.map((f) => statSync(join(ROOT, f)).mtimeMs));
}

/**
 * Builds the UI (`npm run build`) when dist/ui is missing or older than its sources, so `npm test`
 * alone is enough. Runs once per jest run, from the browser project's global setup.
 */
export function ensureUiBuilt(log: (line: string) => void = () => {}): void {
  const index = join(UI_DIST, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= uiSourcesMtime()) return;
  const started = Date.now();
  const run = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0 || !existsSync(index)) {
    throw new Error(`npm run build did not produce ${index} (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  log(`built the UI into ${UI_DIST} in ${Date.now() - started} ms`);
}
