import type { Command } from 'commander';
import type { CommandRegistrar } from '../main';
import { AREAS, atLeastSeverity, isSeverity, SEVERITIES, type Area, type Severity } from '../../posture/finding';
import { renderMarkdown, renderSarif, renderText } from '../../posture/render';
import { allFindings, buildPosture } from '../../posture/report';
import { KubeCredentialsError } from '../../enrich/cluster-state/kube-credentials';
import { loadSource, SourceError, type SourceOptions } from './posture-source';

interface PostureOptions extends SourceOptions {
  json?: boolean;
  markdown?: boolean;
  sarif?: boolean;
  failOn?: string;
  includeBootstrap?: boolean;
}

const OK = 0;
const FAILED_GATE = 1;
const BAD_INPUT = 2;

const out = (text: string) => process.stdout.write(text);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** `--state`, `--live` and friends, shared by `posture` and `netpol`. */
export function withSource(cmd: Command): Command {
  return cmd
    .option(
      '--state <path>',
      'a snapshot (`kubectl get ... -A -o json`), a manifest file, or a folder of YAML (`helm template`, `kubectl kustomize` output); repeatable',
      (v: string, all: string[] = []) => [...all, v],
    )
    .option('--live', 'list the cluster once, with $KUBECONFIG or ~/.kube/config (or in-cluster credentials)')
    .option('--kubeconfig <file>', 'with --live: this kubeconfig')
    .option('--context <name>', 'with --live: this context')
    .option('--live-timeout <seconds>', 'with --live: give up when the first list takes longer', '60');
}

export const registerPosture: CommandRegistrar = (program, exit) => {
  withSource(
    program
      .command('posture')
      .description('report RBAC, Pod Security and NetworkPolicy posture (see docs/posture.md for every finding id)')
      .argument('[area]', 'rbac, pss, network or all', 'all')
      .option('--json', 'the report as JSON (field names: docs/posture.md)')
      .option('--markdown', 'Markdown, for a pull request or a wiki page')
      .option('--sarif', 'SARIF 2.1.0 for code-scanning UIs, results located at the manifests')
      .option('--fail-on <severity>', `exit 1 when a finding is at least this severe (${SEVERITIES.join(', ')})`)
      .option('--include-bootstrap', "text output: also list findings of Kubernetes' own bootstrap RBAC"),
  ).action(async (area: string, opts: PostureOptions) => {
    exit(await runPosture(area, opts));
  });
};

export async function runPosture(area: string, opts: PostureOptions): Promise<number> {
  const areas: Area[] | undefined =
    area === 'all' ? [...AREAS] : (AREAS as readonly string[]).includes(area) ? [area as Area] : undefined;
  if (!areas) return bad(`unknown area ${JSON.stringify(area)}: use rbac, pss, network or all`);
  if ([opts.json, opts.markdown, opts.sarif].filter(Boolean).length > 1)
    return bad('--json, --markdown and --sarif exclude each other');
  let threshold: Severity | undefined;
  if (opts.failOn !== undefined) {
    if (!isSeverity(opts.failOn)) return bad(`--fail-on must be one of ${SEVERITIES.join(', ')}`);
    threshold = opts.failOn;
  }
  let loaded;
  try {
    loaded = await loadSource(opts, err);
  } catch (e) {
    if (e instanceof SourceError || e instanceof KubeCredentialsError) return bad(e.message);
    throw e;
  }
  const report = buildPosture(loaded.state, { areas, now: Date.now() });
  if (opts.json) out(`${JSON.stringify(report, null, 2)}\n`);
  else if (opts.markdown) out(renderMarkdown(report));
  else if (opts.sarif) out(renderSarif(report, loaded.sources));
  else out(renderText(report, { includeBuiltin: opts.includeBootstrap }));
  if (threshold && allFindings(report).some((f) => !f.builtin && atLeastSeverity(f.severity, threshold))) return FAILED_GATE;
  return OK;
}

function bad(message: string): number {
  err(`falconer posture: ${message}`);
  return BAD_INPUT;
}
