/** Falco's eight priorities, lowest first. The index is the rank. */
export const PRIORITIES = ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

export type Priority = (typeof PRIORITIES)[number];

const ALIASES: Readonly<Record<string, Priority>> = Object.freeze({
  ...Object.fromEntries(PRIORITIES.map((p) => [p, p])),
  info: 'informational',
});

/** Parses any case of a Falco priority, plus `info` (as Falcosidekick and Falco's rule loader accept). */
export function parsePriority(value: unknown): Priority | undefined {
  if (typeof value !== 'string') return undefined;
  return Object.hasOwn(ALIASES, value.toLowerCase()) ? ALIASES[value.toLowerCase()] : undefined;
}

export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

export function atLeast(p: Priority, minimum: Priority): boolean {
  return priorityRank(p) >= priorityRank(minimum);
}

/** Title case, as Falco writes priorities in JSON. */
export function priorityTitle(p: Priority): string {
  return p.charAt(0).toUpperCase() + p.slice(1);
}
