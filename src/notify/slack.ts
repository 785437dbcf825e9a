import { WebClient, ErrorCode, type WebAPICallError } from '@slack/web-api';
import type { Alert } from '../core/alert';
import { DeliveryError } from '../core/errors';
import type { Priority } from '../core/priority';
import type { DeliveryRef, Notifier, SendContext } from './port';
import { renderSlackMessage, type SlackMessage } from './slack-message';
import { groupFollowUp, renderSlackGroup } from './slack-group';
import { withSilenceButton } from './slack-actions';

export interface SlackOptions {
  name: string;
  token: string;
  channel: string;
  apiUrl: string;
  minPriority: Priority;
  /** Add the "Silence 1h" button (Slack interactivity is configured). */
  silenceButton?: boolean;
}

/** Platform errors worth another try; the rest (invalid_auth, channel_not_found...) will not heal. */
const TRANSIENT = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/**
 * Slack through the official client. The client's own retries are off: Falconer's delivery queue
 * retries on its clock, honouring Retry-After, and counts every outcome.
 */
export class SlackNotifier implements Notifier {
  readonly name: string;
  readonly minPriority: Priority;
  private readonly client: WebClient;
  private readonly channel: string;
  private readonly silenceButton: boolean;

  constructor(options: SlackOptions) {
    this.name = options.name;
    this.minPriority = options.minPriority;
    this.channel = options.channel;
    this.silenceButton = options.silenceButton ?? false;
    this.client = new WebClient(options.token, {
      slackApiUrl: options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logger: silentLogger,
    });
  }

  async send(alert: Alert, context: SendContext = {}): Promise<DeliveryRef> {
    const message = firing(alert, this.silenceButton);
    const thread = context.thread?.ts
      ? { thread_ts: context.thread.ts, ...(context.broadcast ? { reply_broadcast: true } : {}) }
      : {};
    const channel = this.channel;
    const res = await this.call(() =>
      this.client.chat.postMessage({ channel, ...message, ...thread, unfurl_links: false, unfurl_media: false }),
    );
    if (!res.channel || !res.ts) throw new DeliveryError('Slack answered without channel and ts', false);
    return { channel: res.channel, ts: res.ts };
  }

  async update(alert: Alert, ref: DeliveryRef): Promise<void> {
    const channel = ref.channel;
    const ts = ref.ts;
    if (!channel || !ts) return;
    const message = firing(alert, this.silenceButton);
    await this.call(() => this.client.chat.update({ channel, ts, ...message }));
    const followUp = groupFollowUp(alert);
    if (followUp)
      await this.call(() => this.client.chat.postMessage({ channel, thread_ts: ts, text: followUp, unfurl_links: false }));
  }

  /** Marks the message resolved in place: a green bar, a line saying when, the same blocks otherwise. */
  async resolve(alert: Alert, ref: DeliveryRef, at: number): Promise<void> {
    const channel = ref.channel;
    const ts = ref.ts;
    if (!channel || !ts) return;
    const message = alert.group ? render(alert) : markResolved(render(alert), at);
    await this.call(() => this.client.chat.update({ channel, ts, ...message }));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toDeliveryError(err as WebAPICallError);
    }
  }
}

const RESOLVED_COLOUR = '#2eb67d';

function render(alert: Alert): SlackMessage {
  return alert.group ? renderSlackGroup(alert) : renderSlackMessage(alert);
}

function firing(alert: Alert, silenceButton: boolean): SlackMessage {
  const message = render(alert);
  return silenceButton ? withSilenceButton(message, alert) : message;
}

export function markResolved(message: SlackMessage, at: number): SlackMessage {
  const [first, ...rest] = message.attachments;
  const note = {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `:white_check_mark: *Resolved* ${new Date(at).toISOString()}` }],
  };
  const blocks = first ? [...first.blocks.slice(0, 1), note, ...first.blocks.slice(1)] : [note];
  return { text: `[Resolved] ${message.text}`, attachments: [{ color: RESOLVED_COLOUR, blocks }, ...rest] };
}

function toDeliveryError(err: WebAPICallError): DeliveryError {
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return new DeliveryError('Slack rate limit (429)', true, err.retryAfter * 1000);
    case ErrorCode.HTTPError:
      return new DeliveryError(`Slack HTTP ${err.statusCode}`, err.statusCode >= 500 || err.statusCode === 429);
    case ErrorCode.PlatformError: {
      const reason = String(err.data.error);
      return new DeliveryError(`Slack error: ${reason}`, TRANSIENT.has(reason));
    }
    case ErrorCode.RequestError:
      return new DeliveryError(`Slack unreachable: ${err.original.message}`, true);
    default:
      return new DeliveryError(`Slack call failed: ${(err as Error).message}`, true);
  }
}

const silentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => 'error' as never,
  setName() {},
};
