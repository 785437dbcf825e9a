import { createHmac } from 'node:crypto';
import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import { checkResponse, HttpPoster, tlsOptions, type TlsFiles } from './http-post';
import { alertmanagerWebhook, falconerPayload, notificationOf, resolvedNotification, type Notification } from './payload';
import type { DeliveryRef, Notifier } from './port';

export interface WebhookOptions {
  name: string;
  url: string;
  format: 'alertmanager' | 'falconer';
  headers: Readonly<Record<string, string>>;
  bearerToken?: string | undefined;
  basicAuth?: { username: string; password: string } | undefined;
  hmacSecret?: string | undefined;
  signatureHeader: string;
  tls?: TlsFiles | undefined;
  timeoutSeconds: number;
  minPriority: Priority;
  externalUrl: string;
}

/** `sha256=<hex>` of the exact body bytes, so the receiver can check the sender and the content. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POSTs each notification as JSON; an update re-POSTs the group with the same groupKey, a resolve
 * posts it with status `resolved`. Alertmanager's webhook v4 body or Falconer's native one.
 */
export class WebhookNotifier implements Notifier {
  readonly name: string;
  readonly minPriority: Priority;
  private readonly poster: HttpPoster;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: WebhookOptions) {
    this.name = options.name;
    this.minPriority = options.minPriority;
    this.poster = new HttpPoster(
      new URL(options.url),
      options.timeoutSeconds * 1000,
      options.tls ? tlsOptions(options.tls) : undefined,
    );
    this.headers = { 'user-agent': 'Falconer', ...options.headers };
    if (options.bearerToken) this.headers.authorization = `Bearer ${options.bearerToken}`;
    if (options.basicAuth)
      this.headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
  }

  async send(alert: Alert): Promise<DeliveryRef> {
    const n = notificationOf(this.name, alert, this.options.externalUrl);
    await this.post(n);
    return { groupKey: n.groupKey };
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
    const body = JSON.stringify(this.options.format === 'alertmanager' ? alertmanagerWebhook(n) : falconerPayload(n));
    const headers = { ...this.headers };
    if (this.options.hmacSecret) headers[this.options.signatureHeader] = signBody(this.options.hmacSecret, body);
    checkResponse(`webhook ${this.name}`, await this.poster.post(body, headers));
  }
}
