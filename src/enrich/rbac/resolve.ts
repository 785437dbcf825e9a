import type { ClusterState } from '../cluster-state/state';
import { bindingsFor, describe, type BindingRef, type RoleRefSummary } from './authorize';
import { riskyPermissions, type RiskFinding } from './risky';
import { subjectFor } from './subject';

/** The actor of an event, as much of it as is known. */
export interface ActorInput {
  user: string;
  groups?: readonly string[];
}

/** What an alert carries about who did it. */
export interface SubjectEnrichment {
  /** False when the state holds nothing about this cluster: bindings and findings are then unknown, not empty. */
  known: boolean;
  user: string;
  kind: 'user' | 'serviceaccount';
  serviceAccount?: { namespace: string; name: string };
  /** Including the groups authentication adds. */
  groups: string[];
  bindings: { binding: BindingRef; role: RoleRefSummary; scope: string; roleKnown: boolean; grantedBy: string }[];
  findings: RiskFinding[];
}

export function resolveSubject(state: ClusterState, actor: ActorInput): SubjectEnrichment {
  const subject = subjectFor(actor.user, actor.groups ?? []);
  const known = !state.isEmpty();
  const base = {
    known,
    user: subject.user,
    kind: subject.serviceAccount ? ('serviceaccount' as const) : ('user' as const),
    ...(subject.serviceAccount ? { serviceAccount: subject.serviceAccount } : {}),
    groups: subject.groups,
  };
  if (!known) return { ...base, bindings: [], findings: [] };
  const applied = bindingsFor(state, subject);
  return {
    ...base,
    bindings: applied.map((b) => ({
      binding: b.binding,
      role: b.role,
      scope: b.scope,
      roleKnown: b.rules !== undefined,
      grantedBy: describe(b),
    })),
    findings: riskyPermissions(state, subject, applied),
  };
}
