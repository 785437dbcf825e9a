import { readFileSync } from 'node:fs';
import type { Clock, TimerHandle } from '../core/clock';
import { ConfigError } from '../core/errors';
import { digestTokens, type ApiToken, type DigestedToken, type Scope } from './auth';

export interface TokenEntry {
  name: string;
  token?: string | undefined;
  /** One token per line (blank lines and `#` comments ignored): every line is valid, so a rotation can list old and new. */
  tokenFile?: string | undefined;
  scopes: readonly Scope[];
}

const MIN_TOKEN_LENGTH = 16;

/**
 * The API tokens valid right now: the configured ones (inline or from token files) plus the quick
 * start's single token. Token files are re-read by `reload` (on SIGHUP and on a timer, see
 * `watchTokenFiles`); a file that cannot be read or holds no valid token keeps the previous set, so
 * a half-written Secret never locks every caller out.
 */
export class TokenRing {
  private current: DigestedToken[];
  private fingerprint: string;

  constructor(
    private readonly entries: readonly TokenEntry[],
    private readonly fixed: readonly ApiToken[] = [],
  ) {
    const tokens = this.read(); // a bad file at start-up stops start-up
    this.current = digestTokens(tokens);
    this.fingerprint = fingerprintOf(this.current);
  }

  readonly tokens = (): readonly DigestedToken[] => this.current;

  get hasFiles(): boolean {
    return this.entries.some((e) => e.tokenFile !== undefined);
  }

  /** Re-reads the token files; `changed` when the set of valid tokens differs from before. */
  reload(): { changed: boolean; count: number } {
    const next = digestTokens(this.read());
    const fingerprint = fingerprintOf(next);
    const changed = fingerprint !== this.fingerprint;
    this.current = next;
    this.fingerprint = fingerprint;
    return { changed, count: next.length };
  }

  private read(): ApiToken[] {
    const out: ApiToken[] = [...this.fixed];
    for (const entry of this.entries) {
      const values = entry.tokenFile === undefined ? [entry.token ?? ''] : readTokenFile(entry.tokenFile, entry.name);
      for (const token of values) out.push({ name: entry.name, token, scopes: entry.scopes });
    }
    return out;
  }
}

function readTokenFile(path: string, name: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`token "${name}": cannot read tokenFile ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const tokens = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new ConfigError(`token "${name}": tokenFile ${path} holds no token`);
  const short = tokens.findIndex((t) => t.length < MIN_TOKEN_LENGTH);
  if (short !== -1) {
    throw new ConfigError(`token "${name}": token ${short + 1} in ${path} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  }
  return tokens;
}

function fingerprintOf(tokens: readonly DigestedToken[]): string {
  return tokens.map((t) => `${t.name}:${t.digest.toString('base64')}:${t.scopes.join('+')}`).join(',');
}

export interface TokenWatchLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Keeps a ring's token files current without a restart: re-read every `intervalMs` (a Kubernetes
 * Secret volume is updated in place, without a signal) and on SIGHUP. Returns a function that stops it.
 */
export function watchTokenFiles(ring: TokenRing, clock: Clock, intervalMs: number, log: TokenWatchLog): () => void {
  if (!ring.hasFiles) return () => undefined;
  const reload = (why: string) => {
    try {
      const { changed, count } = ring.reload();
      if (changed) log.info({ tokens: count, trigger: why }, 'API tokens reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message, trigger: why }, 'token file not reloaded; the previous tokens stay valid');
    }
  };
  let timer: TimerHandle | undefined;
  const tick = () => {
    reload('timer');
    timer = clock.setTimeout(tick, intervalMs);
  };
  timer = clock.setTimeout(tick, intervalMs);
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    if (timer) clock.clearTimeout(timer);
    process.off('SIGHUP', onHup);
  };
}
