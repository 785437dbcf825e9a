/** What every normaliser needs to know besides the payload. */
export interface NormaliseContext {
  cluster: string;
  receivedAt: number;
  /** Longest string kept from a field; longer ones are cut and marked. */
  maxFieldLength: number;
}

const TRUNCATED = '…[truncated]';

export function limitString(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max) + TRUNCATED;
}

/** Falco writes `<NA>` (or null) for fields it could not resolve; treat both as absent. */
export function cleanField(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v === '' || v === '<NA>' || v === 'N/A') return undefined;
  return v;
}
