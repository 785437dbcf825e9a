/** A dependency's health, as /readyz reports it. */
export interface HealthCheck {
  name: string;
  check(): { ok: boolean; detail?: string };
}

export function readiness(checks: HealthCheck[]): { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } {
  const results: Record<string, { ok: boolean; detail?: string }> = {};
  let ok = true;
  for (const c of checks) {
    const r = c.check();
    results[c.name] = r;
    ok &&= r.ok;
  }
  return { ok, checks: results };
}

/**
 * The consumer's readiness: not ready before it consumes (a restarted replica answers ingest and
 * /healthz at once, and reports ready once it has joined), nor when events have waited longer than
 * `stallMs` with none handled (a stuck handler, or a batch failing again and again).
 */
export function consumerHealth(
  progress: { consuming: boolean; waitingSince?: number },
  nowMs: number,
  stallMs: number,
): { ok: boolean; detail?: string } {
  if (!progress.consuming) return { ok: false, detail: 'not consuming yet' };
  if (progress.waitingSince !== undefined && nowMs - progress.waitingSince > stallMs) {
    return { ok: false, detail: `no progress for ${Math.round((nowMs - progress.waitingSince) / 1000)} s with events waiting` };
  }
  return { ok: true };
}
