import type { KafkaConfig } from './config.js';

/** librdkafka properties every client of the pipeline shares: brokers, then the operator's extras. */
export function baseClientConfig(cfg: KafkaConfig, clientId: string): Record<string, string | number | boolean> {
  if (!cfg.brokers) throw new Error('kafka.brokers is not set (pipeline.yaml or JL_KAFKA_BROKERS)');
  return { 'bootstrap.servers': cfg.brokers, 'client.id': clientId, 'socket.keepalive.enable': true, 'log.connection.close': false, ...cfg.client };
}

