import mqtt from 'mqtt';

/**
 * Publishes messages in order at QoS 1 as fast as the broker acknowledges them, with at most
 * `window` unacknowledged at once. Resolves when every one is acknowledged.
 */
export async function publishInOrder(url: string, messages: { topic: string; payload: string }[], opts: { window?: number; clientId?: string; protocolVersion?: 4 | 5; progressEvery?: number; onProgress?: (sent: number) => void } = {}): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: opts.clientId ?? `jl-publish-${process.pid}-${Date.now()}`, clean: true, reconnectPeriod: 1000, protocolVersion: opts.protocolVersion ?? 4 });
  const window = opts.window ?? 1000;
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (next < messages.length && next - done < window) {
        const m = messages[next++];
        client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          done++;
          if (done % (opts.progressEvery ?? 10_000) === 0) opts.onProgress?.(done);
          if (done === messages.length) resolve();
          else pump();
        });
      }
    };
    if (!messages.length) resolve();
    else pump();
  });
  await client.endAsync();
}
