import type { Alert } from '../core/alert';
import type { ApiMatcher } from '../alert/matcher';

export const SILENCE_ACTION = 'falconer_silence_1h';

/** Labels that name what an alert is about, for the silence a button makes (not its counts or enrichment). */
const IDENTITY = ['rule', 'cluster', 'namespace', 'pod', 'container'];
const VALUE_MAX = 2000; // Slack's limit for a button value

/** The labels the "Silence 1h" button silences: a group's labels, or the alert's identifying ones. */
export function silenceLabels(alert: Alert): Record<string, string> {
  const g = alert.group;
  if (g && Object.keys(g.labels).length) return g.labels;
  const source = g?.alerts[0]?.labels ?? alert.labels;
  return Object.fromEntries(IDENTITY.filter((k) => source[k]).map((k) => [k, source[k]!]));
}

/** The button value: the labels as JSON, so any replica can act on it without looking the alert up. */
export function silenceValue(alert: Alert): string | undefined {
  const labels = silenceLabels(alert);
  if (Object.keys(labels).length === 0) return undefined;
  const value = JSON.stringify(labels);
  return value.length <= VALUE_MAX ? value : undefined;
}

export function parseSilenceValue(value: string): ApiMatcher[] | undefined {
  try {
    const labels = JSON.parse(value) as unknown;
    if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return undefined;
    const entries = Object.entries(labels as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === 'string',
    );
    if (entries.length === 0) return undefined;
    return entries.map(([name, v]) => ({ name, value: v, isRegex: false, isEqual: true }));
  } catch {
    return undefined;
  }
}

/** Adds the "Silence 1h" button beside the others (or in an actions block of its own). */
export function withSilenceButton<T extends { attachments: { blocks: unknown[] }[] }>(message: T, alert: Alert): T {
  const value = silenceValue(alert);
  const first = message.attachments[0];
  if (!value || !first) return message;
  const button = { type: 'button', text: { type: 'plain_text', text: 'Silence 1h' }, action_id: SILENCE_ACTION, value };
  const blocks = [...first.blocks];
  const i = blocks.findIndex((b) => (b as { type?: string }).type === 'actions');
  if (i >= 0) {
    const actions = blocks[i] as { elements: unknown[] };
    blocks[i] = { ...actions, elements: [...actions.elements, button] };
  } else blocks.push({ type: 'actions', elements: [button] });
  return { ...message, attachments: [{ ...first, blocks }, ...message.attachments.slice(1)] };
}
