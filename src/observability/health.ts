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
