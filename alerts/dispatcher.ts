import type { Logger } from 'pino';
import { backoffDelay } from '../core/backoff.js';
import { alertBody, alertTopic, signBody, testTopic } from './alert.js';
import type { DeliveryConfig } from './config.js';
import { EgressRefused, postWebhook, redactUrl, redactUrls, type EgressPolicy } from './egress.js';
import type { Incident } from './incident.js';
import type { Checkpoint } from './incident-log.js';
import type { IncidentEvent } from './incidents.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { matches } from './subscription.js';
import type { Subscription } from './subscription.js';
import type { SubscriptionStore } from './subscriptions.js';

export type { DeliveryConfig } from './config.js';

/** Publishes one alert over MQTT at QoS 1; resolves on PUBACK. */
export type MqttPublish = (topic: string, body: string) => Promise<void>;

/** Where incident-log checkpoints are published for MQTT subscribers (any grade may read it). */
export const CHECKPOINT_TOPIC = 'jl/alerts/checkpoint';

/**
 * Routes incident events to the subscriptions that match them (clearance first) through the
 * durable outbox, and delivers: webhooks as a signed JSON POST under the egress policy, MQTT as
 * a QoS 1 publish on the grade-scoped topic. Failures are retried with exponential backoff and
 * full jitter, across restarts; a destination the policy refuses is dropped at once. The outbox
 * holds the subscription id, never the URL (looked up at delivery), and every error text is
 * URL-redacted before it reaches the outbox or the log.
 */
export class AlertDispatcher {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly inFlight = new Set<string>();
  /** Per subscription, since start: what was delivered, dropped and the last error (the console's status). */
  private readonly delivery = new Map<string, { delivered: number; checkpoints: number; dropped: number; lastDeliveredAt?: number; lastError?: string; lastErrorAt?: number }>();
  failures = 0;

  constructor(
    private readonly subs: SubscriptionStore,
    readonly outbox: Outbox,
    private readonly cfg: DeliveryConfig,
    private readonly log: Logger,
    private readonly egress: EgressPolicy,
    private readonly mqtt?: MqttPublish,
  ) {}

  /** Incident listener: one outbox entry per matching subscription, durable before it returns. */
  readonly onIncident = (event: IncidentEvent, inc: Incident, n: number): void => {
    const now = Date.now();
    for (const sub of this.subs.list()) {
      if (!matches(sub, event, inc)) continue;
      const id = `${inc.id}:${n}:${sub.id}`;
      const entry: OutboxEntry = { id, subscription: sub.id, body: alertBody(id, event, inc, now), createdAt: now, attempts: 0, dueAt: now };
      this.outbox.add(entry);
    }
    this.pump();
  };

  /**
   * A signed checkpoint of the incident log's head goes to every subscriber (it names no
   * incident, so no clearance applies): each holds a copy of the head outside this host, which a
   * rewritten log can be checked against (`jlpipe incidents verify --against`).
   */
  readonly onCheckpoint = (c: Checkpoint): void => {
    const now = Date.now();
    for (const sub of this.subs.list()) {
      const id = `checkpoint:${c.n}:${sub.id}`;
      this.outbox.add({ id, subscription: sub.id, body: JSON.stringify({ alertId: id, event: 'checkpoint', at: new Date(now).toISOString(), checkpoint: c }), createdAt: now, attempts: 0, dueAt: now });
    }
    this.pump();
  };

  /**
   * A test alert to one subscription, through the outbox like any other (signed, retried,
   * idempotency key `test:<time>:<subscription>`): it names no incident.
   */
  sendTest(sub: Subscription, by: string): string {
    const now = Date.now();
    const id = `test:${now}:${sub.id}`;
    const body = JSON.stringify({ alertId: id, event: 'test', at: new Date(now).toISOString(), by, message: 'Test alert from the Digital Jilin IoT pipeline: this subscription receives alerts.' });
    this.outbox.add({ id, subscription: sub.id, body, createdAt: now, attempts: 0, dueAt: now });
    this.pump();
    return id;
  }

  /** Delivery status of a subscription: its alerts waiting in the outbox (retrying = tried and failed), and since start what was delivered, dropped, the last error. */
  status(subscription: string) {
    const waiting = this.outbox.entries().filter((e) => e.subscription === subscription);
    const d = this.delivery.get(subscription);
    return {
      pending: waiting.filter((e) => e.attempts === 0).length,
      retrying: waiting.filter((e) => e.attempts > 0).length,
      delivered: d?.delivered ?? 0,
      checkpoints: d?.checkpoints ?? 0,
      dropped: d?.dropped ?? 0,
      lastDeliveredAt: d?.lastDeliveredAt ?? null,
      lastError: d?.lastError ?? waiting.find((e) => e.lastError)?.lastError ?? null,
      lastErrorAt: d?.lastErrorAt ?? null,
    };
  }

  /** Notes what became of alert `id` (checkpoints, `checkpoint:...`, are counted on their own). */
  private note(subscription: string, id: string, what: 'delivered' | 'dropped' | 'failed', error?: string): void {
    let d = this.delivery.get(subscription);
    if (!d) this.delivery.set(subscription, (d = { delivered: 0, checkpoints: 0, dropped: 0 }));
    if (what === 'delivered') {
      if (id.startsWith('checkpoint:')) d.checkpoints++;
      else d.delivered++;
      d.lastDeliveredAt = Date.now();
      return;
    }
    if (what === 'dropped') d.dropped++;
    d.lastError = error;
    d.lastErrorAt = Date.now();
  }

  start(intervalMs = 500): void {
    this.timer = setInterval(() => this.pump(), intervalMs);
    this.timer.unref();
    this.warnRefused();
    this.pump();
  }

  /** Names at start the webhooks the policy refuses (saved before it, or under a looser one): their alerts will be dropped. */
  private warnRefused(): void {
    for (const sub of this.subs.list()) {
      if (sub.channel.type !== 'webhook') continue;
      const url = sub.channel.url;
      this.egress.check(url).catch((err: Error) => {
        if (err instanceof EgressRefused) this.log.warn({ subscription: sub.id, url: redactUrl(url), err: err.message }, 'subscription refused by egress policy: its alerts will be dropped');
      });
    }
  }

  /** Stops delivering. A delivery still on the wire settles nothing: its entry stays in the outbox for the next run. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Starts deliveries that are due, up to the concurrency limit. */
  pump(): void {
    if (this.stopped) return;
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
        this.note(sub.id, e.id, 'dropped', `undelivered after ${e.attempts} attempts: ${e.lastError}`);
        continue;
      }
      this.inFlight.add(e.id);
      this.deliver(e, sub)
        .then(() => {
          // After stop the outbox may be closed: the entry stays and goes out again next run.
          if (this.stopped) return;
          this.outbox.done(e.id);
          this.note(sub.id, e.id, 'delivered');
        })
        .catch((err: Error) => {
          if (this.stopped) return;
          this.failures++;
          const message = redactUrls(err.message);
          if (err instanceof EgressRefused) {
            // Retrying cannot help until the policy or the subscription changes.
            this.outbox.drop(e.id, message);
            this.note(sub.id, e.id, 'dropped', message);
            const url = sub.channel.type === 'webhook' ? redactUrl(sub.channel.url) : undefined;
            this.log.error({ alert: e.id, subscription: sub.id, url, err: message }, 'alert refused by egress policy: dropped');
            return;
          }
          const wait = backoffDelay(e.attempts, this.cfg.retryMinMs, this.cfg.retryMaxMs);
          this.outbox.retry(e.id, Date.now() + wait, message);
          this.note(sub.id, e.id, 'failed', message);
          this.log.warn({ alert: e.id, attempt: e.attempts, retryInMs: wait, err: message }, 'alert delivery failed');
        })
        .catch((err: Error) => this.log.error({ alert: e.id, err: err.message }, 'alert outbox not updated; the alert will be tried again'))
        .finally(() => this.inFlight.delete(e.id));
    }
  }

  private async deliver(e: OutboxEntry, sub: Subscription): Promise<void> {
    const channel = sub.channel;
    if (channel.type === 'mqtt') {
      if (!this.mqtt) throw new Error('no MQTT connection for alerts');
      // Derived at delivery from the alert itself, so alerts journaled before the grade-scoped
      // topics existed do not go out on the old, unscoped topic.
      const body = JSON.parse(e.body) as { event: string; incident?: Parameters<typeof alertTopic>[1] };
      // Under the subscription's grade scope, where its subscriber (ACL jl/alerts/{grade}/#) reads.
      if (body.event === 'test') return this.mqtt(testTopic(channel.topicPrefix ?? 'jl/alerts', sub.clearance), e.body);
      if (!body.incident) return this.mqtt(CHECKPOINT_TOPIC, e.body);
      return this.mqtt(alertTopic(channel.topicPrefix ?? 'jl/alerts', body.incident), e.body);
    }
    const headers = { 'content-type': 'application/json', 'x-jl-signature': signBody(channel.secret, e.body), 'x-jl-idempotency-key': e.id };
    const res = await postWebhook(this.egress, channel.url, headers, e.body, this.cfg.timeoutMs);
    this.log.debug({ alert: e.id, status: res.status, responseBytes: res.bytesRead }, 'webhook answered');
    if (res.status >= 300 && res.status < 400) throw new Error(`webhook answered ${res.status} (redirects are not followed)`);
    if (res.status < 200 || res.status >= 300) throw new Error(`webhook answered ${res.status}`);
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
