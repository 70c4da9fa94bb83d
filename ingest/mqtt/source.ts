import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import type { Envelope } from '../../core/types.js';
import { isReservedTopic } from '../../processors/topic.js';
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

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

/**
 * The MQTT source: QoS 1, persistent session, optional shared subscription. Each message is
 * handed on as an Envelope whose `ack` sends the PUBACK, so the broker forgets a message only
 * once the pipeline has it durably. Until then a crash of this process makes the broker resend.
 *
 * mqtt.js sends the PUBACK as soon as a message is handled and handles one packet at a time;
 * holding that back would stall the connection. So the PUBACK mqtt.js wants to send is held
 * here while mqtt.js goes on reading, and sent (in arrival order) when the envelope is acked.
 */
export class MqttSource {
  readonly client: MqttClient;
  private readonly acks: OrderedAcks;
  private readonly held = new Set<number>();
  private onMessage?: (env: Envelope) => void;
  private failures = 0;
  subscribed = false;
  reconnects = 0;
  ignored = 0;

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
    const c = this.client as unknown as { _sendPacket: SendPacket };
    const send = c._sendPacket.bind(this.client);
    // A batch releases thousands of PUBACKs at once: cork the socket so they leave in one write.
    let corked = false;
    this.acks = new OrderedAcks((messageId) => {
      const stream = (this.client as unknown as { stream?: { cork(): void; uncork(): void } }).stream;
      if (!corked && stream) {
        corked = true;
        stream.cork();
        process.nextTick(() => {
          corked = false;
          stream.uncork();
        });
      }
      send({ cmd: 'puback', messageId } as Packet);
    });
    c._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && this.held.delete(packet.messageId!)) {
        cb?.(); // let mqtt.js read the next packet; the real PUBACK waits for the envelope's ack
        return;
      }
      send(packet, cb, ...rest);
    };
    this.client.on('message', (topic, payload, packet) => this.receive(topic, payload, packet));
    this.client.on('connect', (connack) => {
      if (this.failures > 0) this.log.warn({ after: this.failures }, 'MQTT reconnected');
      this.failures = 0;
      this.client.options.reconnectPeriod = opts.reconnectMinMs;
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
      this.client.options.reconnectPeriod = Math.round(next / 2 + (Math.random() * next) / 2);
      const level = this.failures >= 3 ? 'error' : 'warn';
      this.log[level]({ url: redactUrl(opts.url), attempt: this.failures, nextInMs: this.client.options.reconnectPeriod }, 'MQTT reconnecting');
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
    if (isReservedTopic(topic) || packet.retain) {
      // Our own outputs (dead letters, alerts) and retained state are not sensor data.
      this.ignored++;
      ack();
      return;
    }
    this.onMessage({ msg: { topic, payload, receivedAt: Date.now(), dup: packet.dup }, ack });
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
    await this.client.endAsync(false);
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
