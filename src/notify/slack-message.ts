import {
  lacksClusterState,
  type Alert,
  type Attribution,
  type Enrichment,
  type NetworkEnrichment,
  type PodEnrichment,
  type PolicyFacts,
  type SubjectEnrichment,
  type VulnerabilityFacts,
} from '../core/alert';
import type { Priority } from '../core/priority';
import { priorityTitle } from '../core/priority';
import { escapeMrkdwn, inlineCode, mrkdwnValue, plainText, truncate } from './mrkdwn';

const COLOURS: Record<Priority, string> = {
  emergency: '#7b0000',
  alert: '#b00020',
  critical: '#d50000',
  error: '#ff6d00',
  warning: '#ffab00',
  notice: '#2979ff',
  informational: '#00b8d4',
  debug: '#9e9e9e',
};

// Slack's limits (FACTS.md §9).
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;
const URL_MAX = 3000;
/** Fields whose values Falconer writes itself; every other value comes from an event. */
const OUR_OWN = new Set(['Priority', 'Occurrences']);
const FALLBACK_MAX = 300;

export interface SlackMessage {
  text: string;
  attachments: { color: string; blocks: unknown[] }[];
}

/**
 * Renders one alert as Block Kit inside a coloured attachment. Untrusted values go into plain_text
 * where the layout allows (header, summary), and through `mrkdwnValue` or `inlineCode` everywhere
 * else (see mrkdwn.ts for what that neutralises). Every text stays within Slack's limits.
 */
export function renderSlackMessage(alert: Alert): SlackMessage {
  const e = alert.event;
  const k = e.k8s;
  const facts: [string, string | undefined][] = [
    ['Priority', priorityTitle(alert.priority)],
    ['Cluster', k.cluster],
    ['Namespace', k.namespace],
    ['Pod', k.pod],
    ['Container', k.container],
    ['User', e.actor?.user ?? e.process?.user],
    ['Host', e.falco?.hostname],
    ['Time', e.time],
    ['Occurrences', occurrences(alert)],
  ];
  const fields = facts
    .filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '')
    .slice(0, FIELDS_MAX)
    .map(([label, value]) => ({
      type: 'mrkdwn',
      text: truncate(`*${label}*\n${OUR_OWN.has(label) ? value : mrkdwnValue(value)}`, FIELD_MAX),
    }));

  const attributed = alert.attribution ? attributionLine(alert.attribution) : undefined;
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(plainText(alert.rule), HEADER_MAX), emoji: false } },
    ...(attributed ? [{ type: 'section', text: { type: 'mrkdwn', text: truncate(attributed, SECTION_MAX) } }] : []),
    {
      type: 'section',
      text: { type: 'plain_text', text: truncate(plainText(alert.summary || alert.rule), SECTION_MAX), emoji: false },
    },
    { type: 'section', fields },
  ];
  if (alert.incident && (alert.incident.alerts > 1 || alert.incident.mergedInto)) blocks.push(incidentContext(alert.incident));
  const command = e.process?.cmdline ?? (e.audit?.exec?.command.length ? e.audit.exec.command.join(' ') : undefined);
  if (command) {
    const label = '*Command*\n';
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: label + inlineCode(command, SECTION_MAX - label.length) } });
  }
  const enrichment = [
    alert.attribution?.subject ? subjectLines(alert.attribution.subject).join('\n') : '',
    enrichmentText(alert.enrichment),
  ]
    .filter(Boolean)
    .join('\n');
  if (enrichment) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(enrichment, SECTION_MAX) } });
  const runbook = runbookUrl(alert.runbookUrl);
  if (runbook) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Runbook' }, url: runbook, action_id: 'runbook' }],
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: escapeMrkdwn(`${alert.source} · fingerprint ${alert.fingerprint}`) }],
  });
  const where = k.pod ? ` in ${mrkdwnValue(k.namespace ?? '')}/${mrkdwnValue(k.pod)}` : '';
  return {
    text: truncate(
      `[${priorityTitle(alert.priority)}] ${mrkdwnValue(alert.rule)}${where}${attributedText(alert.attribution)}`,
      FALLBACK_MAX,
    ),
    attachments: [{ color: COLOURS[alert.priority], blocks }],
  };
}

/**
 * Who opened the session, first: "opened by alice@example.com (kubectl, 203.0.113.7)". The user agent
 * is client-set, so only its product name is shown; every part is an escaped event value.
 */
export function attributionLine(a: Attribution): string {
  if (a.confidence === 'ambiguous') {
    const users = a.candidates.map((c) => mrkdwnValue(c.user)).join(', ');
    return `*opened by one of* ${users} (ambiguous: sessions of several users were open in this container)`;
  }
  const agent = a.userAgent ? a.userAgent.split(/[\s/]/)[0] : undefined;
  const ip = a.sourceIPs.at(-1);
  const parts = [agent, ip].filter((p): p is string => !!p).map(mrkdwnValue);
  if (a.confidence === 'exact') parts.push('matched by audit ID');
  if (a.confidence === 'low') parts.push('low confidence');
  return `*opened by ${mrkdwnValue(a.user ?? '')}*${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

function attributedText(a: Attribution | undefined): string {
  if (!a) return '';
  const who = a.user ? mrkdwnValue(a.user) : `one of ${a.candidates.map((c) => mrkdwnValue(c.user)).join(', ')}`;
  return ` — opened by ${who}`;
}

/** The incident an alert belongs to, on its message: severity, size, chain, the latest timeline entries. */
function incidentContext(i: NonNullable<Alert['incident']>): unknown {
  const chain = i.chain ? ` · chain *${mrkdwnValue(i.chain)}*` : '';
  const timeline = (i.timeline ?? []).map(
    (t) =>
      `${mrkdwnValue(t.time)} · ${t.source === 'falco' ? 'runtime' : 'audit'} · ${mrkdwnValue(t.rule)}${t.user ? ` · ${mrkdwnValue(t.user)}` : ''}`,
  );
  const head = `Incident ${mrkdwnValue(i.id)} · ${priorityTitle(i.severity)} · ${i.alerts} alerts${chain}`;
  // An absorbed incident's parent says where its story goes on; its members stay in its thread.
  if (i.mergedInto) {
    const text = `${head}\nMerged into incident ${mrkdwnValue(i.mergedInto)}: later alerts are in its thread`;
    return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, SECTION_MAX) }] };
  }
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate([head, ...timeline].join('\n'), SECTION_MAX) }] };
}

/**
 * The runbook button's link, when Slack will take it: an http(s) URL within Slack's 3,000 characters.
 * Anything else would make Slack refuse the whole message (`invalid_blocks`), so the button is left
 * out instead; the alert itself is worth more than its runbook link.
 */
function runbookUrl(url: string | undefined): string | undefined {
  if (!url || url.length > URL_MAX) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function occurrences(alert: Alert): string {
  if (alert.count <= 1) return '1';
  return `${alert.count} (first ${new Date(alert.firstSeen).toISOString()}, last ${new Date(alert.lastSeen).toISOString()})`;
}

const TOP_FINDINGS = 3;
const TOP_VIOLATIONS = 3;
/** One line of the enrichment section; each is cut on its own so one long value cannot hide the rest. */
const LINE_MAX = 400;

/** The enrichment, compactly: who and what they may do, the pod's posture, its isolation. Empty when there is none. */
export function enrichmentText(enrichment: Enrichment): string {
  // Said once, not by each of subject, pod and network.
  if (lacksClusterState(enrichment)) return '*Context* none: no cluster state (see docs/cluster-state.md)';
  const lines = [
    ...(enrichment.subject ? subjectLines(enrichment.subject) : []),
    ...(enrichment.pod ? podLines(enrichment.pod) : []),
    ...(enrichment.network ? [networkLine(enrichment.network)] : []),
    ...(enrichment.vulnerabilities ? [vulnerabilityLine(enrichment.vulnerabilities)] : []),
    ...(enrichment.policy ? [policyLine(enrichment.policy)] : []),
  ];
  return lines.map((l) => truncate(l, LINE_MAX)).join('\n');
}

/** `*Vulnerabilities* 1 critical, 2 high, 1 medium (2 fixable) · top CVE-… (pkg → fixed) in image`. */
function vulnerabilityLine(v: VulnerabilityFacts): string {
  const top = v.images
    .flatMap((i) => i.top.slice(0, 1).map((c) => ({ c, image: i.image })))
    .sort((a, b) => (b.c.score ?? 0) - (a.c.score ?? 0))
    .slice(0, TOP_FINDINGS)
    .map(({ c, image }) => {
      const fix = c.fixedVersion ? ` → ${mrkdwnValue(c.fixedVersion)}` : ', no fix';
      return `${mrkdwnValue(c.id)} (${mrkdwnValue(c.package)}${fix}) in ${mrkdwnValue(image)}`;
    });
  const counts = `${v.critical} critical, ${v.high} high, ${v.medium} medium (${v.fixable} fixable)`;
  return `*Vulnerabilities* ${counts}${top.length > 0 ? ` · top ${top.join('; ')}` : ''}`;
}

/** `*Policy* 3 failing: high disallow-privileged/… on Deployment shop/checkout; …`. */
function policyLine(p: PolicyFacts): string {
  const shown = p.results
    .slice(0, TOP_FINDINGS)
    .map((r) => `${mrkdwnValue(r.severity)} ${mrkdwnValue(r.check)} on ${mrkdwnValue(r.resource)}`);
  return `*Policy* ${p.failing} failing: ${shown.join('; ')}${p.failing > shown.length ? '; …' : ''}`;
}

export function subjectLines(subject: SubjectEnrichment): string[] {
  if (!subject.known) {
    const who = subject.user ? `${mrkdwnValue(subject.user)}: ` : '';
    return [`*Subject* ${who}state unknown (${mrkdwnValue(subject.reason)})`];
  }
  const how = subject.impersonatedBy ? `, impersonated by ${mrkdwnValue(subject.impersonatedBy)}` : '';
  const kind =
    subject.origin === 'pod-service-account'
      ? "the pod's service account"
      : subject.kind === 'serviceaccount'
        ? 'service account'
        : 'user';
  const head = `*Subject* ${mrkdwnValue(subject.user)} (${kind}${how})`;
  if (subject.findingCount === 0) return [`${head}: no risky permissions found`];
  const more = subject.findingCount > TOP_FINDINGS ? ` (top ${TOP_FINDINGS} of ${subject.findingCount})` : '';
  return [
    `${head} can${more}:`,
    ...subject.findings
      .slice(0, TOP_FINDINGS)
      .map(
        (f) =>
          `• ${f.severity}: ${mrkdwnValue(f.title)} (${f.scope === 'cluster' ? 'cluster-wide' : `in ${mrkdwnValue(f.scope)}`}) via ${mrkdwnValue(f.grantedBy)}`,
      ),
  ];
}

function podLines(pod: PodEnrichment): string[] {
  if (!pod.known) return [`*Pod* ${mrkdwnValue(`${pod.namespace}/${pod.name}`)}: state unknown (${mrkdwnValue(pod.reason)})`];
  const violations = pod.pss.violations.slice(0, TOP_VIOLATIONS).map((v) => mrkdwnValue(v.reason));
  const extra = pod.pss.violations.length > TOP_VIOLATIONS ? `, +${pod.pss.violations.length - TOP_VIOLATIONS} more` : '';
  const blocking = violations.length > 0 ? `; short of ${nextLevel(pod.pss.level)}: ${violations.join(', ')}${extra}` : '';
  const ns = pod.namespacePolicy;
  const enforce = ns.known
    ? `namespace enforces ${mrkdwnValue(ns.enforce)}: pod ${ns.meetsEnforce ? 'meets it' : '*does not meet it*'}`
    : 'namespace policy unknown';
  const posture = [
    pod.privileged ? `privileged (${pod.privilegedContainers.map(mrkdwnValue).join(', ')})` : undefined,
    pod.hostNetwork ? 'hostNetwork' : undefined,
    pod.hostPID ? 'hostPID' : undefined,
    pod.hostIPC ? 'hostIPC' : undefined,
    pod.capabilitiesAdded.length > 0 ? `adds ${pod.capabilitiesAdded.map(mrkdwnValue).join(', ')}` : undefined,
    pod.runAsRoot === 'yes' ? 'runs as root' : pod.runAsRoot === 'possible' ? 'may run as root' : undefined,
    pod.hostPathVolumes.length > 0 ? `hostPath ${pod.hostPathVolumes.map(mrkdwnValue).join(', ')}` : undefined,
  ].filter((p): p is string => p !== undefined);
  return [
    `*Pod security* ${pod.pss.level} (${mrkdwnValue(pod.pss.version)})${blocking} · ${enforce}`,
    ...(posture.length > 0 ? [`*Pod* ${posture.join(' · ')}`] : []),
  ];
}

function nextLevel(level: string): string {
  return level === 'privileged' ? 'baseline' : 'restricted';
}

function networkLine(network: NetworkEnrichment): string {
  if (!network.known) return `*Network* state unknown (${mrkdwnValue(network.reason)})`;
  const direction = (name: string, d: { isolated: boolean; policies: string[]; anyPeerAllowed: boolean }) =>
    d.isolated
      ? `${name} isolated by ${d.policies.map(mrkdwnValue).join(', ')}${d.anyPeerAllowed ? ' (some ports open to any peer)' : ''}`
      : `no NetworkPolicy isolates ${name}`;
  if (!network.ingress.isolated && !network.egress.isolated)
    return '*Network* no NetworkPolicy isolates this pod (ingress or egress)';
  return `*Network* ${direction('ingress', network.ingress)} · ${direction('egress', network.egress)}`;
}
