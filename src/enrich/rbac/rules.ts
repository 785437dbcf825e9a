import type { PolicyRule } from '../cluster-state/types';

/** A request against an API resource, as the authorizer sees it (apiGroup `""` is the core group). */
export interface ResourceRequest {
  verb: string;
  apiGroup?: string;
  resource: string;
  subresource?: string;
  name?: string;
  /** Absent or empty for cluster-scoped requests: then only ClusterRoleBindings apply. */
  namespace?: string;
}

/** A request for a non-resource URL such as `/metrics` or `/healthz`. */
export interface NonResourceRequest {
  verb: string;
  nonResourceURL: string;
}

export type AccessRequest = ResourceRequest | NonResourceRequest;

export function isNonResourceRequest(request: AccessRequest): request is NonResourceRequest {
  return 'nonResourceURL' in request;
}

/** The namespace whose RoleBindings can apply: none for non-resource and cluster-scoped requests. */
export function requestNamespace(request: AccessRequest): string | undefined {
  return isNonResourceRequest(request) ? undefined : request.namespace || undefined;
}

/** kube-apiserver's RuleAllows: verb, apiGroup, resource (with subresource) and name must all match. */
export function ruleAllows(rule: PolicyRule, request: AccessRequest): boolean {
  if (!verbMatches(rule, request.verb)) return false;
  if (isNonResourceRequest(request)) return nonResourceURLMatches(rule, request.nonResourceURL);
  const subresource = request.subresource ?? '';
  const combined = subresource ? `${request.resource}/${subresource}` : request.resource;
  return (
    apiGroupMatches(rule, request.apiGroup ?? '') &&
    resourceMatches(rule, combined, subresource) &&
    resourceNameMatches(rule, request.name ?? '')
  );
}

/** The first rule that allows the request, if any. */
export function firstAllowingRule(rules: readonly PolicyRule[], request: AccessRequest): PolicyRule | undefined {
  for (const rule of rules) if (ruleAllows(rule, request)) return rule;
  return undefined;
}

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === '*' || v === verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === '*' || g === group);
}

// `*` matches every resource and subresource; `*/x` matches subresource x of any resource; else exact.
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  return (rule.resources ?? []).some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

/** No resourceNames allows every name; otherwise the request must name one of them (so unnamed never match). */
export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

/** Exact match, `*`, or a trailing-`*` prefix (`/healthz/*` covers `/healthz/etcd`). */
export function nonResourceURLMatches(rule: PolicyRule, url: string): boolean {
  return (rule.nonResourceURLs ?? []).some(
    (u) => u === '*' || u === url || (u.endsWith('*') && url.startsWith(u.replace(/\*+$/, ''))),
  );
}
