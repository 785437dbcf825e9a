/** Message helpers that reproduce the wording of k8s.io/pod-security-admission. */

export function pluralize(singular: string, plural: string, count: number): string {
  return count === 1 ? singular : plural;
}

/** `"a", "b"` — every item double-quoted, comma separated. */
export function joinQuote(items: readonly string[]): string {
  return items.length === 0 ? '' : `"${items.join('", "')}"`;
}

/** Distinct values in byte order, as Go's sets.String.List() gives them. */
export function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(compareBytes);
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Go's %q for the plain strings that reach these messages (printable ASCII plus escapes). */
export function goQuote(value: string): string {
  return JSON.stringify(value);
}

/** `container "a"` / `containers "a", "b"`. */
export function containersPhrase(names: readonly string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}
