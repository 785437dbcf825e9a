/**
 * The console's calls to Falconer. The session cookie goes along by itself (same origin); writes carry
 * the session's CSRF token, which lives only in this module's memory (from GET /ui/session).
 */
import type { Session } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | undefined;
let onUnauthorized: (() => void) | undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}

/** Called when a call answers 401: the session has ended (expired, or logged out elsewhere). */
export function setOnUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** Says the session has ended (e.g. the live stream was refused and /ui/session answers 401). */
export function sessionEnded(): void {
  onUnauthorized?.();
}

export async function api<T>(path: string, options: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network', `Falconer did not answer (${(err as Error).message})`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const body = (json ?? {}) as { error?: string | { code?: string; message?: string }; message?: string };
    const code = typeof body.error === 'string' ? body.error : (body.error?.code ?? `http_${res.status}`);
    const message =
      (typeof body.error === 'object' ? body.error.message : undefined) ?? body.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401 && !path.startsWith('/ui/session')) onUnauthorized?.();
    throw new ApiError(res.status, code, message);
  }
  return json as T;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.status ? `${err.message} (${err.status})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

export const session = {
  get: () => api<Session>('/ui/session'),
  signIn: (token: string) => api<Session>('/ui/session', { method: 'POST', body: { token } }),
  signOut: () => api<void>('/ui/session', { method: 'DELETE' }),
};
