/**
 * Which rule of an audit.k8s.io/v1 Policy a request falls under, as kube-apiserver's policy checker
 * decides it: the first rule whose users, groups, verbs and resources (or non-resource URLs) all match.
 */

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export const LEVELS: readonly AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];

export interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: string[];
}

export interface AuditPolicy {
  omitStages?: string[];
  rules: PolicyRule[];
}

export interface AuditRequest {
  user: string;
  groups: string[];
  verb: string;
  /** Absent for a non-resource request. */
  resource?: { group: string; resource: string; subresource?: string; namespace?: string; name?: string };
  path?: string;
}

const nonEmpty = (list: readonly unknown[] | undefined): list is unknown[] => list !== undefined && list.length > 0;

function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

function resourceMatches(rule: PolicyRule, req: AuditRequest): boolean {
  const r = req.resource;
  if (!r) return false;
  if (nonEmpty(rule.namespaces) && !rule.namespaces.includes(r.namespace ?? '')) return false;
  if (!nonEmpty(rule.resources)) return true;
  const combined = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return rule.resources.some((gr) => {
    if ((gr.group ?? '') !== r.group) return false;
    if (!nonEmpty(gr.resources)) return true;
    if (nonEmpty(gr.resourceNames) && !gr.resourceNames.includes(r.name ?? '')) return false;
    return gr.resources.some(
      (res) =>
        res === combined ||
        res === '*' ||
        (r.subresource !== undefined && (res === `*/${r.subresource}` || res === `${r.resource}/*`)),
    );
  });
}

export function ruleMatches(rule: PolicyRule, req: AuditRequest): boolean {
  if (nonEmpty(rule.users) && !rule.users.includes(req.user)) return false;
  if (nonEmpty(rule.userGroups) && !rule.userGroups.some((g) => req.groups.includes(g))) return false;
  if (nonEmpty(rule.verbs) && !rule.verbs.includes(req.verb)) return false;
  if (nonEmpty(rule.namespaces) || nonEmpty(rule.resources)) return resourceMatches(rule, req);
  if (nonEmpty(rule.nonResourceURLs)) return !req.resource && rule.nonResourceURLs.some((s) => pathMatches(req.path ?? '', s));
  return true;
}

/** The level and the omitted stages a request is audited with; `None` when no rule matches. */
export function auditDecision(policy: AuditPolicy, req: AuditRequest): { level: AuditLevel; omitStages: string[] } {
  const rule = policy.rules.find((r) => ruleMatches(r, req));
  if (!rule) return { level: 'None', omitStages: [] };
  return { level: rule.level, omitStages: [...new Set([...(policy.omitStages ?? []), ...(rule.omitStages ?? [])])] };
}

export function atMost(level: AuditLevel, ceiling: AuditLevel): boolean {
  return LEVELS.indexOf(level) <= LEVELS.indexOf(ceiling);
}
