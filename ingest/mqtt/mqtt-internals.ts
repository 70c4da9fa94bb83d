/**
 * Every use of mqtt.js internals, in one place. mqtt.js (pinned in package.json) sends a
 * PUBACK as soon as it has handled a QoS 1 message and reads one packet at a time, so holding
 * the PUBACK back in a handler would stall the connection. These functions let it go on reading
 * while the PUBACK waits for the pipeline, and widen its fixed reconnect period. They rely on
 * `_sendPacket`, `stream` and `options.reconnectPeriod`, which are not public API: an upgrade
 * that changes them must fail `test/ingest/mqtt-puback.test.ts`, which proves the PUBACK is
 * withheld until the envelope's ack.
 */
import type { MqttClient, Packet } from 'mqtt';

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;
interface Internals {
  _sendPacket: SendPacket;
  stream?: { cork(): void; uncork(): void; destroy(): void; pause(): void; resume(): void };
  options: { reconnectPeriod?: number };
}

const internals = (client: MqttClient) => client as unknown as Internals;

/**
 * Takes over the PUBACKs mqtt.js sends: a PUBACK whose message id `isHeld` claims is swallowed
 * (mqtt.js is told it was sent, so it reads the next packet); every other packet goes out as
 * usual. Returns the function that really sends a PUBACK later. Several PUBACKs released in one
 * tick leave in one socket write (the stream is corked until the next tick).
 */
export function deferPubacks(client: MqttClient, isHeld: (messageId: number) => boolean): (messageId: number) => void {
  const c = internals(client);
  const send = c._sendPacket.bind(client);
  c._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd === 'puback' && packet.messageId !== undefined && isHeld(packet.messageId)) {
      cb?.();
      return;
    }
    send(packet, cb, ...rest);
  };
  let corked = false;
  return (messageId) => {
    const stream = c.stream;
    if (!corked && stream) {
      corked = true;
      stream.cork();
      process.nextTick(() => {
        corked = false;
        stream.uncork();
      });
    }
    send({ cmd: 'puback', messageId });
  };
}

/** Sets the wait before mqtt.js's next reconnect attempt (it has only a fixed period). */
export function setReconnectPeriod(client: MqttClient, ms: number): void {
  internals(client).options.reconnectPeriod = ms;
}

/** The current reconnect wait. */
export function reconnectPeriod(client: MqttClient): number | undefined {
  return internals(client).options.reconnectPeriod;
}

/**
 * Drops the connection as if the network failed: mqtt.js reconnects by itself and the broker
 * redelivers every unacknowledged message of the persistent session.
 */
export function dropConnection(client: MqttClient): void {
  internals(client).stream?.destroy();
}

/** A socket whose reading is held has a no-op `resume` of its own over the prototype's. */
type Holdable = { pause(): void; resume(): void; held?: true };

/**
 * Stops (`hold` true) or restarts reading the connection's socket: the broker's further messages
 * wait in the socket buffers and then with the broker. Messages mqtt.js has already read are
 * still delivered. mqtt.js pipes the socket into its parser, and the pipe resumes the socket
 * whenever the parser drains, so while held `resume` is made a no-op on this socket. A
 * reconnect makes a new socket, which reads until this is called again.
 */
export function holdReading(client: MqttClient, hold: boolean): void {
  const stream = internals(client).stream as Holdable | undefined;
  if (!stream) return;
  if (hold) {
    if (!stream.held) {
      stream.held = true;
      stream.resume = () => {};
    }
    stream.pause();
  } else if (stream.held) {
    delete stream.held;
    delete (stream as Partial<Holdable>).resume; // the prototype's again
    stream.resume();
  }
}
