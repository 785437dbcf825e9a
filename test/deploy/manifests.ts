import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT = join(__dirname, '..', '..');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

export type Doc = Record<string, unknown>;

export interface Manifest {
  /** Path below deploy/. */
  file: string;
  kind: string;
  name: string;
  namespace?: string;
  body: Doc;
}

/** The Helm chart's folder below deploy/: templates, not manifests (rendered by test/deploy/helm.test.ts). */
export const HELM_DIR = 'helm';

/** Every .yaml/.yml file below deploy/ but the Helm chart, as paths relative to it, sorted. */
export function yamlFiles(dir = DEPLOY_DIR): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && relative(DEPLOY_DIR, path) === HELM_DIR) continue;
    if (entry.isDirectory()) out.push(...yamlFiles(path));
    // *.local.yaml are a user's filled-in, git-ignored copies of the templates.
    else if (/\.ya?ml$/.test(entry.name) && !/\.local\.ya?ml$/.test(entry.name)) out.push(relative(DEPLOY_DIR, path));
  }
  return out.sort();
}

/** The documents of a file below deploy/; throws with the file name and the parser's message on any error. */
export function documents(file: string): unknown[] {
  return parseDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8'), file);
}

/** The documents of a multi-document YAML text (empty documents dropped, as kubectl and helm do). */
export function parseDocuments(text: string, origin: string): unknown[] {
  return parseAllDocuments(text)
    .map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${origin} document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

export function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asDoc(value: unknown, what: string): Doc {
  if (!isDoc(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Every document below deploy/ (the chart aside) that has a `kind`. */
export function manifests(): Manifest[] {
  return yamlFiles().flatMap((file) => toManifests(documents(file), file));
}

/** The parsed documents that have a `kind`, as manifests from `file` (a path or a label). */
export function toManifests(docs: readonly unknown[], file: string): Manifest[] {
  const out: Manifest[] = [];
  for (const body of docs) {
    if (!isDoc(body) || typeof body.kind !== 'string') continue;
    const meta = isDoc(body.metadata) ? body.metadata : {};
    out.push({
      file,
      kind: body.kind,
      name: typeof meta.name === 'string' ? meta.name : '',
      ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
      body,
    });
  }
  return out;
}

export function findOne(all: Manifest[], kind: string, name?: string): Manifest {
  const found = all.filter((m) => m.kind === kind && (name === undefined || m.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as Manifest;
}

/** docker-compose.yml with YAML merge keys (`<<: *anchor`) resolved, as Compose reads it. */
export function composeFile(): Doc {
  return asDoc(parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }), 'docker-compose.yml');
}

/**
 * Compose's variable interpolation for the forms the file uses: `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`. Unset required variables throw, as `docker compose` refuses to start.
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(
    /\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g,
    (_m, name: string, colon: string, op: string | undefined, arg: string) => {
      const v = env[name];
      const unset = v === undefined || (colon === ':' && v === '');
      if (op === '?' && unset) throw new Error(`required variable ${name} is not set: ${arg}`);
      if (op === '-' && unset) return arg;
      return v ?? '';
    },
  );
}
