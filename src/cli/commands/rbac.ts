import type { Command } from 'commander';
import type { CommandRegistrar } from '../main';
import { loadSnapshot, SnapshotError } from '../../enrich/cluster-state/snapshot';
import type { ClusterState } from '../../enrich/cluster-state/state';
import { can, whoCan } from '../../enrich/rbac/authorize';
import { parseResourceArg } from '../../enrich/rbac/resource-arg';
import type { AccessRequest } from '../../enrich/rbac/rules';
import { subjectFor } from '../../enrich/rbac/subject';

const OK = 0;
const DENIED = 1;
const BAD_INPUT = 2;

class BadInput extends Error {}

interface ScopeOptions {
  namespace?: string;
  allNamespaces?: boolean;
  state: string;
}

interface CanIOptions extends ScopeOptions {
  as: string;
  asGroup: string[];
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export const registerRbac: CommandRegistrar = (program, exit) => {
  const rbac = program.command('rbac').description('answer RBAC questions against a cluster snapshot');

  withScope(
    rbac
      .command('can-i')
      .description('whether a user may do something, like `kubectl auth can-i` (exit 0 yes, 1 no, 2 bad input)')
      .argument('<verb>', 'get, list, create, ... or *')
      .argument('<resource>', 'RESOURCE[.GROUP][/SUBRESOURCE] (pods, pods/exec, deployments.apps/scale) or a URL path (/metrics)')
      .argument('[name]', 'the object name')
      .requiredOption('--as <user>', 'the user name (system:serviceaccount:<ns>:<name> for a service account)')
      .option('--as-group <group>', 'a group of the user (repeatable)', (g: string, all: string[]) => [...all, g], []),
  ).action((verb: string, resource: string, name: string | undefined, opts: CanIOptions) => {
    exit(guarded(() => runCanI(verb, resource, name, opts)));
  });

  withScope(
    rbac
      .command('who-can')
      .description('the subjects allowed to do something, through which binding and role')
      .argument('<verb>')
      .argument('<resource>', 'as for can-i')
      .argument('[name]', 'the object name'),
  ).action((verb: string, resource: string, name: string | undefined, opts: ScopeOptions) => {
    exit(guarded(() => runWhoCan(verb, resource, name, opts)));
  });
};

function withScope(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', 'the namespace (default: "default"; none for cluster-scoped resources)')
    .option('-A, --all-namespaces', 'ask cluster-wide: only ClusterRoleBindings count')
    .requiredOption(
      '--state <file>',
      'snapshot: `kubectl get namespaces,serviceaccounts,roles,clusterroles,rolebindings,clusterrolebindings -A -o json`',
    );
}

function runCanI(verb: string, resource: string, name: string | undefined, opts: CanIOptions): number {
  const state = load(opts.state);
  const request = toRequest(verb, resource, name, opts);
  const decision = can(state, subjectFor(opts.as, opts.asGroup), request);
  if (decision.allowed) {
    out('yes');
    out(decision.reason.replace(/^RBAC: /, ''));
    return OK;
  }
  out(decision.reason ? `no - ${decision.reason}` : 'no');
  return DENIED;
}

function runWhoCan(verb: string, resource: string, name: string | undefined, opts: ScopeOptions): number {
  const state = load(opts.state);
  const rows = whoCan(state, toRequest(verb, resource, name, opts)).map((e) => [
    e.subject.kind,
    e.subject.namespace ?? '',
    e.subject.name,
    e.binding ? `${e.binding.kind}/${e.binding.namespace ? `${e.binding.namespace}/` : ''}${e.binding.name}` : '(bypasses RBAC)',
    e.role ? `${e.role.kind}/${e.role.name}` : '',
  ]);
  for (const line of table([['KIND', 'NAMESPACE', 'NAME', 'BINDING', 'ROLE'], ...rows])) out(line);
  return OK;
}

function toRequest(verb: string, resource: string, name: string | undefined, opts: ScopeOptions): AccessRequest {
  if (verb === '') throw new BadInput('the verb must not be empty');
  if (resource.startsWith('/')) {
    if (name !== undefined) throw new BadInput('a non-resource URL takes no name');
    return { verb, nonResourceURL: resource };
  }
  const parsed = parseResourceArg(resource);
  if (!parsed) throw new BadInput(`cannot parse resource ${JSON.stringify(resource)}: use RESOURCE[.GROUP][/SUBRESOURCE]`);
  if (parsed.guessed)
    err(`warning: unknown resource type '${parsed.resource}', assuming the core group (write RESOURCE.GROUP to be exact)`);
  if (opts.allNamespaces && opts.namespace) throw new BadInput('--namespace and --all-namespaces exclude each other');
  const namespace = opts.allNamespaces || (parsed.clusterScoped && !opts.namespace) ? undefined : (opts.namespace ?? 'default');
  return {
    verb,
    apiGroup: parsed.apiGroup,
    resource: parsed.resource,
    ...(parsed.subresource ? { subresource: parsed.subresource } : {}),
    ...(name ? { name } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

function load(path: string): ClusterState {
  const { state, loaded } = loadSnapshot(path, 'snapshot');
  if (loaded === 0) err(`warning: ${path} holds no RBAC objects; every answer will be no`);
  return state;
}

function guarded(run: () => number): number {
  try {
    return run();
  } catch (e) {
    if (e instanceof BadInput || e instanceof SnapshotError) {
      err(`error: ${e.message}`);
      return BAD_INPUT;
    }
    throw e;
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
