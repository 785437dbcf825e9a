import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import { priorityTitle } from '../core/priority';
import { escapeMrkdwn, inlineCode, truncate } from './mrkdwn';

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

export interface SlackMessage {
  text: string;
  attachments: { color: string; blocks: unknown[] }[];
}

/**
 * Renders one alert as Block Kit inside a coloured attachment. Untrusted values go into plain_text
 * where the layout allows, and through `escapeMrkdwn` everywhere else.
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
    .map(([label, value]) => ({ type: 'mrkdwn', text: truncate(`*${label}*\n${escapeMrkdwn(value)}`, FIELD_MAX) }));

  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(alert.rule, HEADER_MAX), emoji: false } },
    { type: 'section', text: { type: 'plain_text', text: truncate(alert.summary || alert.rule, SECTION_MAX), emoji: false } },
    { type: 'section', fields },
  ];
  const command = e.process?.cmdline ?? (e.audit?.exec?.command.length ? e.audit.exec.command.join(' ') : undefined);
  if (command) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Command*\n${inlineCode(command)}`, SECTION_MAX) } });
  }
  blocks.push(
    {
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Runbook' },
          url: alert.runbookUrl,
          action_id: 'runbook',
        },
      ],
    },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: escapeMrkdwn(`${alert.source} · fingerprint ${alert.fingerprint}`) }],
    },
  );
  return {
    text: escapeMrkdwn(truncate(`[${priorityTitle(alert.priority)}] ${alert.rule}${k.pod ? ` in ${k.namespace}/${k.pod}` : ''}`, 300)),
    attachments: [{ color: COLOURS[alert.priority], blocks }],
  };
}

function occurrences(alert: Alert): string {
  if (alert.count <= 1) return '1';
  return `${alert.count} (first ${new Date(alert.firstSeen).toISOString()}, last ${new Date(alert.lastSeen).toISOString()})`;
}
