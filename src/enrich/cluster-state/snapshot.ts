import { existsSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { FalconerError } from '../../core/errors';
import { isRecord } from './slim';
import { ClusterState } from './state';
import { isStateKind, type StateKind } from './types';

export class SnapshotError extends FalconerError {
  constructor(message: string) {
    super('invalid_snapshot', message, 400);
  }
}

export interface SnapshotLoad {
  state: ClusterState;
  /** Objects kept. */
  loaded: number;
  /** Items that were not one of the kinds enrichment reads (cluster objects, reports), or were malformed. */
  skipped: number;
}

/**
 * Loads a snapshot (`kubectl get pods,namespaces,... -A -o json`: a `List`, a `...List`, a single object,
 * or several JSON/YAML documents) from a file path or from the text itself into `into` (a new state by
 * default). Loading into a fresh state and swapping it in is how a reload replaces the old snapshot.
 */
export function loadSnapshot(source: string, into: ClusterState | string = 'default'): SnapshotLoad {
  const state = typeof into === 'string' ? new ClusterState(into) : into;
  const text = looksLikeDocument(source) ? source : readSnapshotFile(source);
  let loaded = 0;
  let skipped = 0;
  for (const { item, kindHint } of snapshotItems(parseDocuments(text))) {
    // Reports and Events in a snapshot are what already fails: state, never news.
    if (state.upsert(item, kindHint) || (!kindHint && state.upsertFinding(item, 'state'))) loaded++;
    else skipped++;
  }
  return { state, loaded, skipped };
}

function looksLikeDocument(source: string): boolean {
  // A one-line string that is not JSON is a path; a path that happens to start with `{` still counts as one.
  if (/^\s*[[{]/.test(source)) return !existsSync(source);
  return source.includes('\n');
}

function readSnapshotFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new SnapshotError(`cannot read snapshot ${path}: ${(err as Error).message}`);
  }
}

/** Parses one JSON document, concatenated JSON documents, or (multi-document) YAML. */
export function parseDocuments(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return [JSON.parse(trimmed)];
    } catch {
      const parts = splitJsonStream(trimmed);
      if (parts) return parts;
    }
  }
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new SnapshotError(`snapshot is neither JSON nor YAML: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Splits `{...}{...}` / newline-separated JSON values by bracket depth; undefined when it is not that. */
function splitJsonStream(text: string): unknown[] | undefined {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      if (depth++ === 0) start = i;
    } else if (ch === '}' || ch === ']') {
      if (--depth === 0) {
        try {
          out.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          return undefined;
        }
      } else if (depth < 0) return undefined;
    } else if (depth === 0 && !/\s/.test(ch ?? '')) return undefined;
  }
  return depth === 0 ? out : undefined;
}

/** Flattens Lists (`List`, `PodList`, ...) and arrays into items, with the kind a typed list implies. */
function* snapshotItems(docs: unknown[]): Generator<{ item: unknown; kindHint?: StateKind }> {
  for (const doc of docs) {
    if (Array.isArray(doc)) {
      yield* snapshotItems(doc);
      continue;
    }
    if (isRecord(doc) && typeof doc.kind === 'string' && doc.kind.endsWith('List') && Array.isArray(doc.items)) {
      const implied = doc.kind.slice(0, -'List'.length);
      const kindHint = isStateKind(implied) ? implied : undefined;
      for (const item of doc.items) yield kindHint ? { item, kindHint } : { item };
      continue;
    }
    yield { item: doc };
  }
}
