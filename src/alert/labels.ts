import type { Detection, Enrichment } from '../core/alert';
import type { Priority } from '../core/priority';

/** Enterprise ATT&CK tactic ids, as the rule pack tags them, by the name Falco's `mitre_*` tags use. */
const TACTICS: Readonly<Record<string, string>> = {
  TA0043: 'reconnaissance',
  TA0042: 'resource_development',
  TA0001: 'initial_access',
  TA0002: 'execution',
  TA0003: 'persistence',
  TA0004: 'privilege_escalation',
  TA0005: 'defense_evasion',
  TA0006: 'credential_access',
  TA0007: 'discovery',
  TA0008: 'lateral_movement',
  TA0009: 'collection',
  TA0011: 'command_and_control',
  TA0010: 'exfiltration',
  TA0040: 'impact',
};
const TACTIC_NAMES = new Set(Object.values(TACTICS));

/** The `severity` Alertmanager users route on, from Falco's eight priorities (docs/alerting.md#labels). */
export function severityOf(p: Priority): 'critical' | 'warning' | 'info' {
  switch (p) {
    case 'emergency':
    case 'alert':
    case 'critical':
      return 'critical';
    case 'error':
    case 'warning':
      return 'warning';
    default:
      return 'info';
  }
}

/** A tag as a label name: `T1562.001` → `tag_T1562_001`. */
export function tagLabel(tag: string): string {
  return `tag_${tag.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** The tactics a rule's tags name (`TA0002` or Falco's `mitre_execution`), in tag order, deduplicated. */
export function tacticsOf(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const tag of tags) {
    const name = tagFacts(tag).tactic;
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

interface TagFacts {
  label: string;
  tactic: string | undefined;
}

/**
 * A tag's label name and tactic, remembered: every alert of a rule carries the same few tags, and the
 * regular expression and case folding cost more than the lookup. Falco sends its own tags, so the
 * memo is bounded: it starts over when full.
 */
const tagMemo = new Map<string, TagFacts>();
const TAGS_KEPT = 1_000;

function tagFacts(tag: string): TagFacts {
  let facts = tagMemo.get(tag);
  if (facts === undefined) {
    const name = TACTICS[tag.toUpperCase()] ?? (tag.startsWith('mitre_') ? tag.slice(6) : undefined);
    facts = { label: tagLabel(tag), tactic: name && TACTIC_NAMES.has(name) ? name : undefined };
    if (tagMemo.size >= TAGS_KEPT) tagMemo.clear();
    tagMemo.set(tag, facts);
  }
  return facts;
}

/**
 * The labels routes, silences and inhibit rules match on (docs/alerting.md#labels). A label is absent
 * when the alert does not know it (which matchers read as ""). Correlation adds `attributed_user`,
 * `incident` and `chain`.
 */
export function alertLabels(d: Detection, enrichment: Enrichment = {}): Record<string, string> {
  const k = d.event.k8s;
  const labels: Record<string, string> = {
    rule: d.rule,
    priority: d.priority,
    severity: severityOf(d.priority),
    source: d.source,
    cluster: k.cluster,
  };
  if (k.namespace) labels.namespace = k.namespace;
  if (k.pod) labels.pod = k.pod;
  if (k.container) labels.container = k.container;
  if (d.event.actor?.user) labels.user = d.event.actor.user;
  // One pass: each tag's label and tactic (what `tacticsOf` says, in tag order, deduplicated).
  let tactics: string | undefined;
  for (const tag of d.tags) {
    const facts = tagFacts(tag);
    labels[facts.label] = 'true';
    if (facts.tactic && !tactics?.split(',').includes(facts.tactic))
      tactics = tactics === undefined ? facts.tactic : `${tactics},${facts.tactic}`;
  }
  if (tactics !== undefined) labels.mitre_tactic = tactics;
  const { pod, subject, network } = enrichment;
  if (pod?.known) labels.pss_level = pod.pss.level;
  if (subject?.known) labels.risky_subject = subject.findingCount > 0 ? 'true' : 'false';
  if (network?.known) labels.isolated = network.ingress.isolated && network.egress.isolated ? 'true' : 'false';
  return labels;
}
