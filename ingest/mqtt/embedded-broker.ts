import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

/**
 * The in-process aedes broker: only the embedded default of `npm start` when no broker is
 * configured. It speaks MQTT 3.1.1 and keeps sessions in memory.
 */
export class EmbeddedBroker {
  private constructor(private readonly aedes: Aedes, private readonly server: Server, readonly url: string) {}

  static async start(port: number, host = '127.0.0.1'): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker({ queueLimit: 100_000 });
    const server = createServer(aedes.handle);
    const listen = (p: number) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, host, () => resolve());
      });
    try {
      await listen(port);
    } catch (e) {
      // A system broker may hold the port (Debian's mosquitto starts on 1883): take a free one.
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw e;
      await listen(0);
    }
    const actual = (server.address() as { port: number }).port;
    return new EmbeddedBroker(aedes, server, `mqtt://${host}:${actual}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.aedes.close(() => r()));
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
