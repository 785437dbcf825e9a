import type { Producer } from 'kafkajs';
import { createKafka, type KafkaConnection } from '../bus/kafka';
import type { Alert } from '../core/alert';
import { DeliveryError } from '../core/errors';
import type { Priority } from '../core/priority';
import { falconerPayload, groupKeyHash, notificationOf, resolvedNotification, type Notification } from './payload';
import type { DeliveryRef, Notifier } from './port';

export interface KafkaNotifierOptions extends KafkaConnection {
  name: string;
  topic: string;
  key: 'fingerprint' | 'group';
  timeoutMs: number;
  minPriority: Priority;
  externalUrl: string;
}

/**
 * One JSON message per notification (the native payload) on a topic, keyed by the alert's fingerprint
 * or the group key, so one alert's messages stay in order on one partition. Produced with acks=all:
 * a send counts only once every in-sync replica has it.
 */
export class KafkaNotifier implements Notifier {
  readonly name: string;
  readonly minPriority: Priority;
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(private readonly options: KafkaNotifierOptions) {
    this.name = options.name;
    this.minPriority = options.minPriority;
    this.producer = createKafka(options).producer({ allowAutoTopicCreation: true, retry: { retries: 2 } });
  }

  async send(alert: Alert): Promise<DeliveryRef> {
    const n = notificationOf(this.name, alert, this.options.externalUrl);
    await this.produce(n, alert);
    return { key: this.key(n, alert) };
  }

  async update(alert: Alert): Promise<void> {
    await this.produce(notificationOf(this.name, alert, this.options.externalUrl), alert);
  }

  async resolve(alert: Alert, _ref: DeliveryRef, at: number): Promise<void> {
    await this.produce(resolvedNotification(this.name, alert, this.options.externalUrl, at), alert);
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect().catch(() => undefined);
  }

  /** A group's notification has a fingerprint of its own (the group's), so either key stays stable. */
  private key(n: Notification, alert: Alert): string {
    return this.options.key === 'group' ? groupKeyHash(n.groupKey) : alert.fingerprint;
  }

  private async produce(n: Notification, alert: Alert): Promise<void> {
    try {
      this.connected ??= this.producer.connect().catch((err: unknown) => {
        this.connected = undefined;
        throw err;
      });
      await this.connected;
      await this.producer.send({
        topic: this.options.topic,
        acks: -1,
        timeout: this.options.timeoutMs,
        messages: [
          { key: this.key(n, alert), value: JSON.stringify(falconerPayload(n)), headers: { 'content-type': 'application/json' } },
        ],
      });
    } catch (err) {
      throw new DeliveryError(`Kafka ${this.options.topic}: ${(err as Error).message}`, true);
    }
  }
}
