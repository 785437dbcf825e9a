import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { CommandRegistrar } from '../main';
import {
  denialMessage,
  evaluatePodSpec,
  formatViolations,
  highestLevelOfSpec,
  parseLevel,
  parseVersion,
  tryExtractPod,
  type ExtractedPod,
  type Level,
  type PolicyVersion,
  type Violation,
} from '../../enrich/pod-security';
import { parseManifests } from '../../enrich/pod-security/manifests';

interface CheckOptions {
  level?: string;
  version: string;
  json?: boolean;
}

/** One line of `--json` output. */
interface ObjectReport {
  file: string;
  kind: string;
  name: string;
  namespace: string;
  /** The level evaluated (`--level`), or without it the highest level the object meets. */
  level: Level;
  version: string;
  allowed: boolean;
  violations: Violation[];
  highestLevel: Level;
  /** The next stricter level and what keeps the object from it; absent at restricted. */
  nextLevel?: Level;
  nextLevelViolations?: Violation[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Files named on the command line; a directory stands for the manifests below it. */
export function expandPaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = fs.statSync(p).isDirectory();
    } catch {
      // Reported as unreadable when read.
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    for (const entry of fs.readdirSync(p, {
      recursive: true,
      withFileTypes: true,
    })) {
      if (entry.isFile() && MANIFEST_EXTENSIONS.has(path.extname(entry.name))) {
        files.push(path.join(entry.parentPath, entry.name));
      }
    }
  }
  return files;
}

function report(file: string, pod: ExtractedPod, level: Level | undefined, version: PolicyVersion): ObjectReport {
  const highest = highestLevelOfSpec(pod.metadata, pod.spec, version);
  const base = {
    file,
    kind: pod.kind,
    name: pod.name,
    namespace: pod.namespace,
  };
  const next = highest.nextLevel ? { nextLevel: highest.nextLevel, nextLevelViolations: highest.violations } : {};
  if (level === undefined) {
    return {
      ...base,
      level: highest.level,
      version: highest.version,
      allowed: true,
      violations: [],
      highestLevel: highest.level,
      ...next,
    };
  }
  const result = evaluatePodSpec(pod.metadata, pod.spec, level, version);
  return {
    ...base,
    level,
    version: result.version,
    allowed: result.allowed,
    violations: result.violations,
    highestLevel: highest.level,
    ...next,
  };
}

function objectName(r: ObjectReport): string {
  const name = r.name || '(unnamed)';
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${name}`;
}

function humanLine(r: ObjectReport, levelGiven: boolean): string {
  const subject = `${r.file}: ${objectName(r)}`;
  if (levelGiven) {
    return r.allowed
      ? `${subject}: allowed by PodSecurity "${r.level}:${r.version}"`
      : `${subject}: ${denialMessage({ level: r.level, version: r.version, allowed: false, violations: r.violations })}`;
  }
  const meets = `${subject}: meets "${r.level}:${r.version}"`;
  return r.nextLevel ? `${meets}; not ${r.nextLevel}: ${formatViolations(r.nextLevelViolations ?? [])}` : meets;
}

/** Buffers output so that thousands of objects cost a handful of writes. */
class Output {
  private chunks: string[] = [];
  private size = 0;

  line(text: string): void {
    this.chunks.push(text, '\n');
    this.size += text.length + 1;
    if (this.size > 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    process.stdout.write(this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return 'code' in err && err.code === 'ENOENT' ? 'no such file' : (err.message.split('\n')[0] ?? '');
  return String(err);
}

/** Evaluates every file; resolves to the exit code (0 all allowed, 1 a violation, 2 unreadable input). */
export function runPssCheck(paths: readonly string[], opts: CheckOptions): number {
  let level: Level | undefined;
  let version: PolicyVersion;
  try {
    level = opts.level === undefined ? undefined : parseLevel(opts.level);
    version = parseVersion(opts.version);
  } catch (err) {
    process.stderr.write(`falconer pss check: ${describeError(err)}\n`);
    return 2;
  }
  const out = new Output();
  const counts = { objects: 0, violating: 0, unreadable: 0 };
  for (const file of expandPaths(paths)) {
    let objects: unknown[];
    try {
      objects = parseManifests(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      counts.unreadable += 1;
      out.flush();
      process.stderr.write(`falconer pss check: cannot read ${file}: ${describeError(err)}\n`);
      continue;
    }
    for (const object of objects) {
      const pod = tryExtractPod(object);
      if (!pod) continue;
      const r = report(file, pod, level, version);
      counts.objects += 1;
      if (!r.allowed) counts.violating += 1;
      out.line(opts.json ? JSON.stringify(r) : humanLine(r, level !== undefined));
    }
  }
  if (!opts.json) {
    const verdict = level === undefined ? '' : `, ${counts.violating} violating ${level}:${opts.version}`;
    const unreadable = counts.unreadable > 0 ? `, ${counts.unreadable} unreadable file(s)` : '';
    out.line(`${counts.objects} object(s) evaluated${verdict}${unreadable}`);
  }
  out.flush();
  if (counts.unreadable > 0) return 2;
  return counts.violating > 0 ? 1 : 0;
}

export const registerPss: CommandRegistrar = (program: Command, exit) => {
  const pss = program
    .command('pss')
    .description('Pod Security Standards, as the PodSecurity admission controller evaluates them');
  pss
    .command('check')
    .description(
      'evaluate Pods and workload pod templates (Deployment, StatefulSet, DaemonSet, Job, CronJob, ...) in YAML or JSON files or directories',
    )
    .argument('<files...>', 'manifest files (multi-document YAML, JSON, List) or directories')
    .option('--level <level>', 'privileged, baseline or restricted; without it, report the highest level each object meets')
    .option('--version <version>', 'policy version: latest or v1.N', 'latest')
    .option('--json', 'one JSON object per line per evaluated object')
    .action((files: string[], opts: CheckOptions) => {
      exit(runPssCheck(files, opts));
    });
};
