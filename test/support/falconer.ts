import pino from 'pino';
import { startFalconer, type FalconerOptions, type RunningFalconer } from '../../src/app';
import { validateConfig } from '../../src/config/load';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

/**
 * Starts Falconer on a free loopback port with a quiet logger; config is merged over test defaults
 * (memory-only unless the test gives a `dataDir`).
 */
export async function startTestFalconer(
  config: Record<string, unknown> = {},
  options: FalconerOptions = {},
): Promise<RunningFalconer> {
  const { server, ingest, ...rest } = config as { server?: object; ingest?: object };
  const validated = validateConfig({
    server: { host: '127.0.0.1', port: 0, ...server },
    ingest: { token: TEST_TOKEN, ...ingest },
    log: { level: 'silent' },
    dataDir: '',
    ...rest,
  });
  return startFalconer(validated, { logger: pino({ level: 'silent' }), ...options });
}

export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Polls until `check` passes or the time is up (for the real-time end-to-end tests only). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
