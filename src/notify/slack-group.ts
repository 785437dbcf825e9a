import type { Alert } from '../core/alert';
import { priorityTitle } from '../core/priority';
import { escapeMrkdwn, mrkdwnValue, plainText, truncate } from './mrkdwn';
import type { SlackMessage } from './slack-message';

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const LINES_SHOWN = 20;
const COLOUR = { firing: '#d50000', resolved: '#2eb67d' };

/**
 * One message for a group (routing tree grouping): what it is grouped by, then one line per alert with
 * where it fires and how often, firing ones first. Every label value is escaped (attacker-influenced).
 */
export function renderSlackGroup(alert: Alert): SlackMessage {
  const g = alert.group!;
  const firing = g.alerts.filter((a) => g.resolvedAt[a.fingerprint] === undefined);
  const resolved = g.alerts.filter((a) => g.resolvedAt[a.fingerprint] !== undefined);
  const by = Object.entries(g.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const title = `${firing.length ? `[${priorityTitle(alert.priority)}] ` : '[Resolved] '}${g.alerts.length + g.truncated} alerts${by ? ` · ${by}` : ''}`;
  const line = (a: Alert, state: string) => {
    const where = [a.event.k8s.namespace, a.event.k8s.pod].filter(Boolean).join('/');
    return `• ${state} *${mrkdwnValue(a.rule)}*${where ? ` in ${mrkdwnValue(where)}` : ''} · ${priorityTitle(a.priority)} · ×${a.count}`;
  };
  const lines = [...firing.map((a) => line(a, ':red_circle:')), ...resolved.map((a) => line(a, ':white_check_mark:'))];
  const shown = lines.slice(0, LINES_SHOWN);
  const hidden = lines.length - shown.length + g.truncated;
  if (hidden > 0) shown.push(`…and ${hidden} more`);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(plainText(title), HEADER_MAX), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(shown.join('\n'), SECTION_MAX) } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: escapeMrkdwn(`${firing.length} firing · ${resolved.length} resolved · ${alert.count} occurrences · ${g.reason}`), // no event values
        },
      ],
    },
  ];
  return {
    text: truncate(mrkdwnValue(title), 300),
    attachments: [{ color: firing.length ? COLOUR.firing : COLOUR.resolved, blocks }],
  };
}

/** The thread reply that goes with an in-place update people should notice (new alerts, a repeat); none otherwise. */
export function groupFollowUp(alert: Alert): string | undefined {
  const g = alert.group;
  if (!g || (g.reason !== 'new alerts added' && g.reason !== 'repeat interval elapsed')) return undefined;
  const firing = g.alerts.filter((a) => g.resolvedAt[a.fingerprint] === undefined).length;
  const what = g.reason === 'new alerts added' ? 'New alerts in this group' : 'Still firing';
  return escapeMrkdwn(`${what}: ${firing} firing, ${alert.count} occurrences (the message above is up to date)`);
}
