import { compareLevels, parseLevel, type Level } from '../enrich/pod-security';
import { subjectString, type Finding } from './finding';
import type { ClusterAdminEntry } from './rbac';
import { allFindings, type PostureReport } from './report';

/**
 * The rule-pack rules whose ground each drift covers. A drift alert carries the rule's id and name, so it
 * routes, deduplicates and links its runbook like the rule's own alert; when the rule already fired on
 * the audit event behind the change, the drift is not raised a second time.
 */
export const DRIFT_RULES = {
  'enforce-lowered': { ruleId: 'namespace-podsecurity-enforce-lowered', rule: 'Namespace PodSecurity Enforce Level Lowered' },
  'new-cluster-admin': { ruleId: 'attach-to-cluster-admin-role', rule: 'Attach to cluster-admin Role' },
  'default-deny-lost': { ruleId: 'default-deny-networkpolicy-removed', rule: 'Namespace Lost Default-Deny NetworkPolicy' },
} as const;

export type DriftKind = keyof typeof DRIFT_RULES;

export interface Drift {
  kind: DriftKind;
  /** The namespace it happened in (enforce, default-deny). */
  namespace?: string;
  /** The object the change is about: the namespace, or the binding that grants the new admin. */
  object: { kind: string; name: string; namespace?: string };
  summary: string;
}

/** What got worse from `before` to `after` (two reports of the same cluster, with the same areas). */
export function postureDrift(before: PostureReport, after: PostureReport): Drift[] {
  const out: Drift[] = [];
  if (before.pss && after.pss) {
    const was = new Map(before.pss.namespaces.map((n) => [n.namespace, n]));
    for (const ns of after.pss.namespaces) {
      const old = was.get(ns.namespace);
      if (!old || !old.known || !ns.known) continue;
      const from = levelOf(old.enforce);
      const to = levelOf(ns.enforce);
      if (compareLevels(to, from) < 0) {
        out.push({
          kind: 'enforce-lowered',
          namespace: ns.namespace,
          object: { kind: 'Namespace', name: ns.namespace },
          summary: `Pod Security enforce level of namespace ${ns.namespace} lowered from ${old.enforce} to ${ns.enforce}${ns.enforceLabelled ? '' : ' (label removed)'}`,
        });
      }
    }
  }
  if (before.rbac && after.rbac) {
    const known = new Set(before.rbac.clusterAdmins.map((a) => subjectString(a.subject)));
    const seen = new Set<string>();
    for (const admin of after.rbac.clusterAdmins) {
      const who = subjectString(admin.subject);
      if (known.has(who) || seen.has(who)) continue;
      seen.add(who);
      out.push({
        kind: 'new-cluster-admin',
        object: bindingObject(admin),
        summary: `${who} now has full control of the cluster: ${admin.grantedBy}`,
      });
    }
  }
  if (before.network && after.network) {
    const was = new Map(before.network.namespaces.map((n) => [n.namespace, n]));
    const present = new Set(
      after.pss?.namespaces.filter((n) => n.known).map((n) => n.namespace) ?? after.network.namespaces.map((n) => n.namespace),
    );
    for (const ns of after.network.namespaces) {
      const old = was.get(ns.namespace);
      if (!old || !present.has(ns.namespace)) continue;
      const lost = [
        old.defaultDenyIngress && !ns.defaultDenyIngress ? 'ingress' : '',
        old.defaultDenyEgress && !ns.defaultDenyEgress ? 'egress' : '',
      ].filter(Boolean);
      if (lost.length === 0) continue;
      out.push({
        kind: 'default-deny-lost',
        namespace: ns.namespace,
        object: { kind: 'Namespace', name: ns.namespace },
        summary: `namespace ${ns.namespace} lost its last default-deny ${lost.join(' and ')} NetworkPolicy`,
      });
    }
  }
  return out;
}

function levelOf(levelVersion: string): Level {
  return parseLevel(levelVersion.split(':')[0] as string);
}

function bindingObject(a: ClusterAdminEntry) {
  return a.binding.namespace
    ? { kind: a.binding.kind, name: a.binding.name, namespace: a.binding.namespace }
    : { kind: a.binding.kind, name: a.binding.name };
}

export interface PostureChanges {
  added: Finding[];
  resolved: Finding[];
}

/** Findings that appeared and that went away between two reports, by finding key. */
export function findingChanges(before: PostureReport | undefined, after: PostureReport): PostureChanges {
  const now = allFindings(after).filter((f) => !f.builtin);
  if (!before) return { added: now, resolved: [] };
  const then = allFindings(before).filter((f) => !f.builtin);
  const thenKeys = new Set(then.map((f) => f.key));
  const nowKeys = new Set(now.map((f) => f.key));
  return { added: now.filter((f) => !thenKeys.has(f.key)), resolved: then.filter((f) => !nowKeys.has(f.key)) };
}

const DIGEST_LISTED = 5;

/** The digest's text: scores with their change, what is new, what was fixed, and the top fixes. */
export function digestText(before: PostureReport | undefined, after: PostureReport): string {
  const { added, resolved } = findingChanges(before, after);
  const lines: string[] = [];
  const scores = after.areas.map((a) => {
    const now = after.summary.scores[a]?.score;
    const then = before?.summary.scores[a]?.score;
    const delta = now !== undefined && then !== undefined && now !== then ? ` (${now > then ? '+' : ''}${now - then})` : '';
    return `${a} ${now ?? '-'}/100${delta}`;
  });
  lines.push(`Posture of cluster ${after.cluster}: ${scores.join(', ')}`);
  lines.push(
    before
      ? `Since the last digest: ${added.length} new finding${added.length === 1 ? '' : 's'}, ${resolved.length} fixed.`
      : `First digest since Falconer started: ${added.length} finding${added.length === 1 ? '' : 's'}.`,
  );
  if (before && added.length) {
    lines.push('New:');
    for (const f of added.slice(0, DIGEST_LISTED)) lines.push(`• [${f.severity}] ${f.title}`);
    if (added.length > DIGEST_LISTED) lines.push(`• … and ${added.length - DIGEST_LISTED} more`);
  }
  if (resolved.length) {
    lines.push('Fixed:');
    for (const f of resolved.slice(0, DIGEST_LISTED)) lines.push(`• ${f.title}`);
    if (resolved.length > DIGEST_LISTED) lines.push(`• … and ${resolved.length - DIGEST_LISTED} more`);
  }
  if (after.summary.topFixes.length) {
    lines.push('Fix first:');
    for (const f of after.summary.topFixes.slice(0, DIGEST_LISTED)) lines.push(`• [${f.severity}] ${f.title}: ${f.fix}`);
  }
  return lines.join('\n');
}
