import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';

/** Where an announcement landed, so it can be updated later (Slack: channel id and message ts). */
export type DeliveryRef = Record<string, string>;

/**
 * One receiver. `send` announces a new alert; `update` (optional) refreshes an earlier announcement,
 * e.g. the duplicate count. Both throw `DeliveryError` (retryable or not, with Retry-After if known).
 */
/** Where a send goes besides the channel: a reply in the incident's thread, broadcast when it completes a chain. */
export interface SendContext {
  thread?: DeliveryRef;
  broadcast?: boolean;
}

export interface Notifier {
  readonly name: string;
  readonly minPriority: Priority;
  send(alert: Alert, context?: SendContext): Promise<DeliveryRef | undefined>;
  update?(alert: Alert, ref: DeliveryRef): Promise<void>;
  /** Tells the receiver the alert resolved at `at` (ms), for receivers that understand it. */
  resolve?(alert: Alert, ref: DeliveryRef, at: number): Promise<void>;
  /** Releases connections at shutdown. */
  close?(): Promise<void>;
}
