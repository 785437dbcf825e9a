import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import { DeliveryError } from '../core/errors';
import { checkResponse, HttpPoster } from './http-post';
import { pagerdutyEvent, dedupKey } from './pagerduty-event';
import { notificationOf, resolvedNotification, type Notification } from './payload';
import type { DeliveryRef, Notifier } from './port';

export interface PagerDutyOptions {
  name: string;
  routingKey: string;
  url: string;
  timeoutSeconds: number;
  minPriority: Priority;
  externalUrl: string;
}

/**
 * PagerDuty Events API v2: `trigger` with a dedup_key stable for the alert's group, again on every
 * update (PagerDuty folds them into the open incident), and `resolve` with the same key. 429 and
 * 5xx are retried (Retry-After honoured); 400 means the event is malformed and goes to dead letters.
 */
export class PagerDutyNotifier implements Notifier {
  readonly name: string;
  readonly minPriority: Priority;
  private readonly poster: HttpPoster;

  constructor(private readonly options: PagerDutyOptions) {
    this.name = options.name;
    this.minPriority = options.minPriority;
    this.poster = new HttpPoster(new URL(options.url), options.timeoutSeconds * 1000);
  }

  async send(alert: Alert): Promise<DeliveryRef> {
    const n = notificationOf(this.name, alert, this.options.externalUrl);
    await this.post(n);
    return { dedupKey: dedupKey(n) };
  }

  async update(alert: Alert): Promise<void> {
    await this.post(notificationOf(this.name, alert, this.options.externalUrl));
  }

  async resolve(alert: Alert, _ref: DeliveryRef, at: number): Promise<void> {
    await this.post(resolvedNotification(this.name, alert, this.options.externalUrl, at));
  }

  async close(): Promise<void> {
    this.poster.close();
  }

  private async post(n: Notification): Promise<void> {
    const res = await this.poster.post(JSON.stringify(pagerdutyEvent(n, this.options.routingKey)), {});
    if (res.status === 400) {
      // PagerDuty says why (`errors`); the routing key is never part of it.
      throw new DeliveryError(`PagerDuty rejected the event (400): ${res.body.slice(0, 300)}`, false);
    }
    checkResponse('PagerDuty', res);
  }
}
