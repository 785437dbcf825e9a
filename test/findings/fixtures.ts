import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocuments } from '../../src/enrich/cluster-state/snapshot';

export const FIXTURES = join(__dirname, '../fixtures/findings');

/** The sample objects of one fixture file (a List is flattened). */
export function fixture(name: string): Record<string, unknown>[] {
  const docs = parseDocuments(readFileSync(join(FIXTURES, `${name}.yaml`), 'utf8')) as Record<string, unknown>[];
  return docs.flatMap((d) => (d.kind === 'List' ? (d.items as Record<string, unknown>[]) : [d]));
}

export function one(name: string): Record<string, unknown> {
  return fixture(name)[0] as Record<string, unknown>;
}

/** A deep copy with a change applied, as a later version of the same object. */
export function revised<T>(obj: T, change: (o: any) => void): T {
  const copy = structuredClone(obj);
  change(copy);
  return copy;
}
