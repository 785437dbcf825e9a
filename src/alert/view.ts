import type { Alert } from '../core/alert';

/** The API view of an alert (`GET /v1/alerts`): everything but the event's raw payload (its id is in `evidence`). */
export function alertView(alert: Alert) {
  const { event, ...rest } = alert;
  const { raw: _raw, ...eventWithoutRaw } = event;
  const state =
    alert.resolvedAt !== undefined ? 'resolved' : alert.silencedBy?.length || alert.inhibitedBy?.length ? 'suppressed' : 'active';
  return { ...rest, state, silencedBy: alert.silencedBy ?? [], inhibitedBy: alert.inhibitedBy ?? [], event: eventWithoutRaw };
}
