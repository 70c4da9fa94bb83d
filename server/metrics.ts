import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeEvents } from '../core/runtime/runtime.js';
import { packageVersion } from '../config/paths.js';
import { kafkaMetrics, type KafkaConsumerReadings } from './kafka-metrics.js';

/**
 * Latency histograms fed by the delivery runtime's events: each InfluxDB write's duration, and
 * each stored reading's time from its receipt to durable storage (end to end inside the
 * pipeline). Made before the HTTP API (the runtime starts first), registered by buildMetrics.
 */
export class LatencyMetrics {
  readonly write = new Histogram({
    name: 'jl_influx_write_duration_seconds',
    help: 'Duration of each write to InfluxDB (a batch), by outcome.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });
  readonly endToEnd = new Histogram({
    name: 'jl_end_to_end_latency_seconds',
    help: 'Time from receipt of a message to its reading being durable in InfluxDB.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [],
  });

  /** Histograms of `runtime`'s writes and stored readings, from its events. */
  static of(runtime: EventEmitter<RuntimeEvents>): LatencyMetrics {
    const m = new LatencyMetrics();
    runtime.on('stored', (readings, at) => m.stored(readings, at));
    runtime.on('write', (w) => m.wrote(w.ms, w.ok));
    return m;
  }

  /** One write to the output took `ms`. */
  wrote(ms: number, ok: boolean): void {
    this.write.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
  }

  /** Readings became durable at `at` (ms). */
  stored(readings: readonly { receivedAt: number }[], at: number): void {
    for (const r of readings) this.endToEnd.observe(Math.max(0, at - r.receivedAt) / 1000);
  }
}

/** The package's version, for jl_build_info. */
const VERSION = packageVersion();

/** What the metrics read at scrape time. */
export interface MetricsSource {
  /** The ledger's snapshot: its keys are bounded (`overflow`: the cap and the deliveries folded past it). */
  ledger(): { sources: Record<string, { received: number; stored: number; deadLettered: number; inSpool: number }>; reasons: Record<string, number>; overflow?: { maxSources: number; folded: number } };
  spoolBytes(): number;
  influxUp(): boolean;
  anomalies(): Record<string, number>;
  late(): number;
  /** Messages with data fields their catalogue entry does not name, and the devices that sent them (issue 13). */
  unknownFields?(): { messages: number; devices: number };
  incidents(): Record<string, number>;
  outboxPending(): number;
  deliveryFailures(): number;
  /** The delivery runtime's state, when the app has one; its gauges are registered only then. */
  runtime?(): RuntimeReadings;
  /** The Kafka consumers of a scale-out role; their metrics are registered only then. */
  kafka?(): KafkaConsumerReadings[];
  /** The spool's size bound in bytes, when the app has a spool. */
  spoolLimit?(): number;
  /** The MQTT connection, when the app reads MQTT. */
  mqtt?(): { connected: boolean; reconnects: number };
  /** Write and end-to-end latency histograms, when the app writes to InfluxDB. */
  latency?: LatencyMetrics;
  /** The process's role (single, gateway, worker, incidents), for jl_build_info. */
  role?: string;
}

/** What the delivery runtime reports at scrape time. */
export interface RuntimeReadings {
  /** Messages received and not yet acknowledged to the broker. */
  pending: number;
  /** Age of the oldest unacknowledged message (0 when none). */
  oldestUnackedAgeMs: number;
  spoolWritable: boolean;
  spoolFull: boolean;
  deadLetterWritable: boolean;
  /** Output write retries since start (monotonic). */
  retries: number;
  ready: boolean;
}

/**
 * Prometheus metrics, read from the pipeline's own counters at scrape time (no double
 * bookkeeping on the hot path). Names follow Prometheus conventions (`_total` for counters).
 * Per-source series exist only for the ledger's keys, which it bounds (sources past its cap
 * share `_other/_/_`), and only once non-zero: /metrics needs no token, so its size must not
 * follow what clients put in topics.
 */
export function buildMetrics(src: MetricsSource): Registry {
  const registry = new Registry();
  // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...): dashboards and
  // alert rules written for any Node.js service work unchanged.
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'jl_build_info', help: 'Always 1; the labels say which build runs.', labelNames: ['version', 'node', 'role'], registers: [registry] }).set({ version: VERSION, node: process.version, role: src.role ?? 'single' }, 1);
  const bySource = (name: string, help: string, pick: (c: { received: number; stored: number; deadLettered: number }) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['sector', 'region', 'type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [k, c] of Object.entries(src.ledger().sources)) {
          const n = pick(c);
          if (!n) continue; // the counts only grow: a series, once there, stays
          const [sector, region, type] = k.split('/');
          this.inc({ sector, region, type }, n);
        }
      },
    });
  bySource('jl_messages_received_total', 'Messages received, by source.', (c) => c.received);
  bySource('jl_messages_stored_total', 'Messages stored in InfluxDB, by source.', (c) => c.stored);
  bySource('jl_messages_dead_lettered_total', 'Messages dead-lettered, by source.', (c) => c.deadLettered);
  new Counter({
    name: 'jl_ledger_folded_messages_total',
    help: 'Messages counted under source _other/_/_ because the ledger already holds its most source keys.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ledger().overflow?.folded ?? 0);
    },
  });
  new Counter({
    name: 'jl_dead_letters_by_reason_total',
    help: 'Dead letters by reason code.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(src.ledger().reasons)) this.inc({ reason }, n);
    },
  });
  new Gauge({ name: 'jl_spool_bytes', help: 'Bytes held in the durable spool.', registers: [registry], collect() { this.set(src.spoolBytes()); } });
  new Gauge({ name: 'jl_influx_up', help: '1 when InfluxDB takes writes.', registers: [registry], collect() { this.set(src.influxUp() ? 1 : 0); } });
  if (src.spoolLimit) {
    const limit = src.spoolLimit.bind(src);
    new Gauge({ name: 'jl_spool_limit_bytes', help: 'Size bound of the durable spool: at it, the pipeline stops taking messages.', registers: [registry], collect() { this.set(limit()); } });
  }
  if (src.mqtt) {
    const mqtt = src.mqtt.bind(src);
    new Gauge({ name: 'jl_mqtt_connected', help: '1 while connected to the MQTT broker.', registers: [registry], collect() { this.set(mqtt().connected ? 1 : 0); } });
    new Counter({ name: 'jl_mqtt_reconnects_total', help: 'Reconnects to the MQTT broker since start.', registers: [registry], collect() { this.reset(); this.inc(mqtt().reconnects); } });
  }
  if (src.latency) {
    registry.registerMetric(src.latency.write);
    registry.registerMetric(src.latency.endToEnd);
  }
  new Counter({
    name: 'jl_anomalies_total',
    help: 'Anomalies found, by processor and kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(src.anomalies())) this.inc({ kind }, n);
    },
  });
  new Counter({ name: 'jl_detection_late_total', help: 'Readings later than the allowed lateness (stored, not scored).', registers: [registry], collect() { this.reset(); this.inc(src.late()); } });
  new Gauge({
    name: 'jl_incidents',
    help: 'Incidents by state (and overdue).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(src.incidents())) this.set({ state }, n);
    },
  });
  new Gauge({ name: 'jl_alerts_outbox_pending', help: 'Alerts waiting for delivery.', registers: [registry], collect() { this.set(src.outboxPending()); } });
  new Counter({ name: 'jl_alert_delivery_failures_total', help: 'Failed alert delivery attempts.', registers: [registry], collect() { this.reset(); this.inc(src.deliveryFailures()); } });
  if (src.unknownFields) {
    const read = src.unknownFields.bind(src);
    new Counter({ name: 'jl_unknown_field_messages_total', help: 'Stored messages that carried data fields their catalogue entry does not name (dropped or stored by its unknownFields).', registers: [registry], collect() { this.reset(); this.inc(read().messages); } });
    new Gauge({ name: 'jl_unknown_field_devices', help: 'Devices that sent data fields their catalogue entry does not name.', registers: [registry], collect() { this.set(read().devices); } });
  }
  if (src.runtime) runtimeMetrics(registry, src.runtime.bind(src));
  if (src.kafka) kafkaMetrics(registry, src.kafka.bind(src));
  return registry;
}

function runtimeMetrics(registry: Registry, read: () => RuntimeReadings): void {
  const gauge = (name: string, help: string, pick: (r: RuntimeReadings) => number | boolean) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(Number(pick(read())));
      },
    });
  gauge('jl_runtime_pending_messages', 'Messages received and not yet acknowledged to the broker.', (r) => r.pending);
  gauge('jl_oldest_unacked_age_seconds', 'Age of the oldest unacknowledged message (0 when none).', (r) => r.oldestUnackedAgeMs / 1000);
  gauge('jl_spool_writable', '1 when the spool takes appends.', (r) => r.spoolWritable);
  gauge('jl_spool_full', '1 when the spool is at its size bound.', (r) => r.spoolFull);
  gauge('jl_dead_letter_writable', '1 when the dead-letter store takes writes.', (r) => r.deadLetterWritable);
  gauge('jl_ready', '1 when the pipeline is ready (as /readyz).', (r) => r.ready);
  new Counter({ name: 'jl_output_retries_total', help: 'Output write retries since start.', registers: [registry], collect() { this.reset(); this.inc(read().retries); } });
}
