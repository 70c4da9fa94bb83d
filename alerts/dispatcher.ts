import type { Logger } from 'pino';
import { backoffDelay } from '../core/backoff.js';
import { alertBody, alertTopic, signBody } from './alert.js';
import type { DeliveryConfig } from './config.js';
import type { Incident } from './incident.js';
import type { IncidentEvent } from './incidents.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { matches } from './subscription.js';
import type { SubscriptionStore } from './subscriptions.js';

export type { DeliveryConfig } from './config.js';

/** Publishes one alert over MQTT at QoS 1; resolves on PUBACK. */
export type MqttPublish = (topic: string, body: string) => Promise<void>;

/**
 * Routes incident events to the subscriptions that match them (clearance first) through the
 * durable outbox, and delivers: webhooks as a signed JSON POST, MQTT as a QoS 1 publish.
 * Failures are retried with exponential backoff and full jitter, across restarts.
 */
export class AlertDispatcher {
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<string>();
  failures = 0;

  constructor(
    private readonly subs: SubscriptionStore,
    readonly outbox: Outbox,
    private readonly cfg: DeliveryConfig,
    private readonly log: Logger,
    private readonly mqtt?: MqttPublish,
  ) {}

  /** Incident listener: one outbox entry per matching subscription, durable before it returns. */
  readonly onIncident = (event: IncidentEvent, inc: Incident, n: number): void => {
    const now = Date.now();
    for (const sub of this.subs.list()) {
      if (!matches(sub, event, inc)) continue;
      const id = `${inc.id}:${n}:${sub.id}`;
      const entry: OutboxEntry = { id, subscription: sub.id, body: alertBody(id, event, inc, now), createdAt: now, attempts: 0, dueAt: now };
      if (sub.channel.type === 'mqtt') entry.topic = alertTopic(sub.channel.topicPrefix ?? 'jl/alerts', inc);
      this.outbox.add(entry);
    }
    this.pump();
  };

  start(intervalMs = 500): void {
    this.timer = setInterval(() => this.pump(), intervalMs);
    this.timer.unref();
    this.pump();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Starts deliveries that are due, up to the concurrency limit. */
  pump(): void {
    const now = Date.now();
    for (const e of this.outbox.due(now)) {
      if (this.inFlight.size >= this.cfg.concurrency) return;
      if (this.inFlight.has(e.id)) continue;
      const sub = this.subs.get(e.subscription);
      if (!sub) {
        this.outbox.drop(e.id, 'subscription deleted');
        continue;
      }
      if (now - e.createdAt > this.cfg.maxAgeMs) {
        this.log.error({ alert: e.id, attempts: e.attempts, lastError: e.lastError }, 'alert undelivered for too long: dropped');
        this.outbox.drop(e.id, `undelivered after ${e.attempts} attempts: ${e.lastError}`);
        continue;
      }
      this.inFlight.add(e.id);
      this.deliver(e, sub.channel)
        .then(() => this.outbox.done(e.id))
        .catch((err: Error) => {
          this.failures++;
          const wait = backoffDelay(e.attempts, this.cfg.retryMinMs, this.cfg.retryMaxMs);
          this.outbox.retry(e.id, Date.now() + wait, err.message);
          this.log.warn({ alert: e.id, attempt: e.attempts, retryInMs: wait, err: err.message }, 'alert delivery failed');
        })
        .finally(() => this.inFlight.delete(e.id));
    }
  }

  private async deliver(e: OutboxEntry, channel: NonNullable<ReturnType<SubscriptionStore['get']>>['channel']): Promise<void> {
    if (channel.type === 'mqtt') {
      if (!this.mqtt) throw new Error('no MQTT connection for alerts');
      return this.mqtt(e.topic!, e.body);
    }
    const res = await fetch(channel.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-jl-signature': signBody(channel.secret, e.body), 'x-jl-idempotency-key': e.id },
      body: e.body,
      signal: AbortSignal.timeout(this.cfg.timeoutMs),
    });
    await res.arrayBuffer().catch(() => {});
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }

  /** Resolves once nothing is due or in flight (for tests and shutdown). */
  async idle(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.inFlight.size === 0 && this.outbox.due(Date.now()).length === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }
}
