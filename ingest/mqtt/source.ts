import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { isReservedTopic } from '../../core/topic.js';
import type { Envelope, Source } from '../../core/types.js';
import { deferPubacks, dropConnection, holdReading, reconnectPeriod, setReconnectPeriod } from './mqtt-internals.js';
import { OrderedAcks } from './ordered-acks.js';

export interface MqttSourceOptions {
  url: string;
  clientId: string;
  topic: string;
  shareGroup: string | null;
  protocolVersion: 4 | 5;
  receiveMaximum: number;
  username?: string;
  password?: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/**
 * The MQTT source: QoS 1, persistent session, optional shared subscription. Each message is
 * handed on as an Envelope: `ack` sends its PUBACK (in arrival order), so the broker forgets a
 * message only once the pipeline has its outcome durably; until then a crash of this process
 * makes the broker resend it. `nack` leaves the message unacknowledged: when the source is still
 * running it drops the connection (at most once per second), so the broker redelivers every
 * unacknowledged message of the session; when paused or stopping, the next session gets them.
 * The mqtt.js internals this needs are in `mqtt-internals.ts`.
 */
export class MqttSource implements Source {
  readonly name = 'mqtt';
  readonly client: MqttClient;
  private readonly acks: OrderedAcks;
  private readonly held = new Set<number>();
  private onMessage?: (env: Envelope) => void;
  private failures = 0;
  private redeliverTimer?: NodeJS.Timeout;
  /** Backpressure (see `throttle`): reading is held, and the timer that lets it read now and then. */
  private holding = false;
  private holdTimer?: NodeJS.Timeout;
  subscribed = false;
  reconnects = 0;
  ignored = 0;
  nacked = 0;

  constructor(private readonly opts: MqttSourceOptions, private readonly log: Logger) {
    const options: IClientOptions = {
      clientId: opts.clientId,
      clean: false,
      protocolVersion: opts.protocolVersion,
      reconnectPeriod: opts.reconnectMinMs,
      connectTimeout: 10_000,
      username: opts.username,
      password: opts.password,
      manualConnect: true,
      resubscribe: true,
      ...(opts.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: opts.receiveMaximum } } : {}),
    };
    this.client = mqtt.connect(opts.url, options);
    const sendPuback = deferPubacks(this.client, (id) => this.held.delete(id));
    this.acks = new OrderedAcks(sendPuback);
    this.client.on('message', (topic, payload, packet) => this.receive(topic, payload, packet));
    this.client.on('connect', (connack) => {
      if (this.failures > 0) this.log.warn({ after: this.failures }, 'MQTT reconnected');
      this.failures = 0;
      setReconnectPeriod(this.client, opts.reconnectMinMs);
      this.log.info({ url: redactUrl(opts.url), sessionPresent: connack.sessionPresent }, 'MQTT connected');
      if (!connack.sessionPresent || !this.subscribed) this.subscribe();
    });
    this.client.on('close', () => {
      this.acks.reset();
      this.held.clear();
    });
    this.client.on('reconnect', () => {
      this.reconnects++;
      this.failures++;
      // mqtt.js retries at a fixed period: widen it, with jitter, up to the maximum.
      const next = Math.min(opts.reconnectMaxMs, opts.reconnectMinMs * 2 ** Math.min(this.failures, 10));
      setReconnectPeriod(this.client, Math.round(next / 2 + (Math.random() * next) / 2));
      const level = this.failures >= 3 ? 'error' : 'warn';
      this.log[level]({ url: redactUrl(opts.url), attempt: this.failures, nextInMs: reconnectPeriod(this.client) }, 'MQTT reconnecting');
    });
    this.client.on('error', (e) => this.log.error({ err: e.message, url: redactUrl(opts.url) }, 'MQTT error'));
  }

  private subscribe(): void {
    const topic = this.opts.shareGroup ? `$share/${this.opts.shareGroup}/${this.opts.topic}` : this.opts.topic;
    this.client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err || !granted || granted.some((g) => g.qos !== 1)) {
        this.log.error({ topic, err: err?.message, granted }, 'MQTT subscription refused');
        return;
      }
      this.subscribed = true;
      this.log.info({ topic }, 'subscribed');
    });
  }

  private receive(topic: string, payload: Buffer, packet: mqtt.IPublishPacket): void {
    let ack = () => {};
    if (packet.qos === 1 && packet.messageId !== undefined) {
      this.held.add(packet.messageId);
      ack = this.acks.track(packet.messageId);
    }
    if (!this.onMessage) return; // paused: never acknowledged, redelivered next session
    // Still held: a stream may be resumed from elsewhere (its pipe, a reconnect); hold it again.
    if (this.holding) holdReading(this.client, true);
    if (isReservedTopic(topic) || packet.retain) {
      // Our own outputs (dead letters, alerts) and retained state are not sensor data.
      this.ignored++;
      ack();
      return;
    }
    // A v2 signature (docs/DEVICES.md) comes as the user property `sig`; given twice it is an array, which no signature matches.
    const sig = packet.properties?.userProperties?.sig;
    this.onMessage({ msg: { topic, payload, receivedAt: Date.now(), dup: packet.dup, ...(sig !== undefined ? { sig: String(sig) } : {}) }, ack, nack: (err) => this.nack(err) });
  }

  /** A message handed back unsettled: the broker must deliver it again (see the class comment). */
  private nack(err: Error): void {
    this.nacked++;
    if (!this.onMessage || this.redeliverTimer) return;
    this.log.warn({ err: err.message }, 'message handed back unsettled: reconnecting so the broker redelivers it');
    this.redeliverTimer = setTimeout(() => {
      this.redeliverTimer = undefined;
      if (this.onMessage) dropConnection(this.client);
    }, 1000);
    this.redeliverTimer.unref();
  }

  /** Connects and starts delivering envelopes to `handler`. */
  start(handler: (env: Envelope) => void): void {
    this.onMessage = handler;
    this.client.connect();
  }

  /**
   * Stops handing on messages: later ones are not acknowledged, so the broker keeps them for
   * the next session. Used before a clean shutdown drains what is in flight.
   */
  pause(): void {
    this.onMessage = undefined;
  }

  /**
   * Backpressure from the runtime: `true` stops reading the socket (the broker keeps the rest;
   * nothing is acknowledged or lost), `false` reads again. While held, the socket is read for a
   * moment every 10 s, so the keepalive's PINGRESP still arrives and the connection stays up
   * (the next message read holds it again).
   */
  throttle(hold: boolean): void {
    this.holding = hold;
    clearInterval(this.holdTimer);
    this.holdTimer = undefined;
    holdReading(this.client, hold);
    if (hold) {
      this.holdTimer = setInterval(() => holdReading(this.client, false), 10_000);
      this.holdTimer.unref();
    }
  }

  /** Publishes with QoS 1 on the same connection (dead letters). */
  publish(topic: string, body: string): Promise<void> {
    return this.client.publishAsync(topic, body, { qos: 1 }).then(() => undefined);
  }

  get connected(): boolean {
    return this.client.connected;
  }
  get unacked(): number {
    return this.acks.pending;
  }

  /** Disconnects cleanly; unacknowledged messages stay with the broker for the next session. */
  async stop(): Promise<void> {
    this.onMessage = undefined;
    clearTimeout(this.redeliverTimer);
    clearInterval(this.holdTimer);
    this.holding = false;
    holdReading(this.client, false);
    await this.client.endAsync(false);
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
