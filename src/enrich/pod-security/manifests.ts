import { parseAllDocuments } from 'yaml';
import { FalconerError } from '../../core/errors';
import { isObject } from './pod-spec';

export class ManifestSyntaxError extends FalconerError {
  constructor(message: string) {
    super('manifest_syntax', message, 400);
  }
}

/**
 * The objects in a manifest file: one JSON document, or a multi-document YAML stream. `List`
 * objects (`kubectl get -o yaml` output) are expanded into their items; empty documents are dropped.
 */
export function parseManifests(text: string): unknown[] {
  return expandLists(parseDocuments(text));
}

function parseDocuments(text: string): unknown[] {
  const trimmed = text.trimStart();
  // JSON.parse is far faster than the YAML parser for the `kubectl -o json` case.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      // Flow-style YAML also starts with a brace; let the YAML parser decide.
    }
  }
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [];
  const objects: unknown[] = [];
  for (const doc of list) {
    const [first] = doc.errors;
    if (first) throw new ManifestSyntaxError(first.message);
    objects.push(doc.toJS());
  }
  return objects;
}

function isList(value: Record<string, unknown>): boolean {
  return typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
}

function expandLists(objects: unknown[]): unknown[] {
  const out: unknown[] = [];
  const visit = (value: unknown): void => {
    if (value === null || value === undefined) return;
    if (isObject(value) && isList(value)) {
      for (const item of value.items as unknown[]) visit(item);
      return;
    }
    out.push(value);
  };
  for (const o of objects) visit(o);
  return out;
}
