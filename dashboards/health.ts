import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, influx, stat, thresholds, timeseries, alarmFrom, UNITS } from './common.js';
import { Select } from './influxql.js';

const health = () => Select.from('pipeline_health');

/** Messages per second through each instance. */
export function throughput() {
  return timeseries('Throughput', 'Messages per second taken in by each pipeline instance.', UNITS.msgPerSec).withTarget(influx(health().agg('mean', 'rate', 'msg/s').groupByTime().groupBy('instance').fill('none')).alias('$tag_instance'));
}

/** Publish-to-stored latency percentiles. */
export function latency() {
  const q = health().agg('max', 'latency_p99_ms', 'p99').agg('mean', 'latency_p50_ms', 'p50').groupByTime().groupBy('instance').fill('none');
  return timeseries('Latency, receive to stored', 'Time from a message’s arrival to its point being durable (InfluxDB or spool; for a Kafka gateway, on Kafka): p50 and p99 (ms).', 'ms').thresholds(thresholds(250, 1000)).withTarget(influx(q).alias('$tag_instance $col'));
}

/** Bytes waiting in the durable spool (InfluxDB slow or down). */
export function spoolDepth() {
  return timeseries('Spool depth', 'Bytes held in the durable spool waiting for InfluxDB; the alarm is at 80 % of the limit.', 'bytes').withTarget(influx(health().agg('max', 'spool_bytes', 'spool').groupByTime().groupBy('instance').fill('none')).alias('$tag_instance'));
}

/** Broker reconnects (a counter since start). */
export function reconnects() {
  return stat('MQTT reconnects', 'Reconnects to the broker since each instance started.', 'short').thresholds(thresholds(1, 10)).withTarget(influx(health().agg('last', 'reconnects', 'reconnects').groupBy('instance')).alias('$tag_instance'));
}

/** Ledger balance: received minus stored, dead-lettered, spooled and in flight. Must be 0. */
export function ledgerBalance() {
  return stat('Ledger balance', 'received − (stored + dead-lettered + in spool + in flight); anything but 0 means a message is unaccounted for.', 'short').thresholds(alarmFrom(1)).withTarget(influx(health().agg('last', 'unbalanced', 'unbalanced').groupBy('instance')).alias('$tag_instance'));
}

/** Where the messages went, over time. */
export function ledger() {
  const q = health().agg('last', 'received').agg('last', 'stored').agg('last', 'dead_lettered').agg('last', 'in_spool').groupByTime().fill('previous');
  return timeseries('Ledger', 'Messages received, stored, dead-lettered and in the spool since start (all instances).', 'short').withTarget(influx(q));
}

/** CPU and memory of each instance. */
export function resources() {
  const q = health().agg('mean', 'cpu_pct', 'cpu %').groupByTime().groupBy('instance').fill('none');
  return timeseries('CPU', 'CPU used by each instance (% of one core).', 'percent').withTarget(influx(q).alias('$tag_instance'));
}

export function memory() {
  return timeseries('Memory (RSS)', 'Resident memory of each instance.', 'bytes').withTarget(influx(health().agg('max', 'rss_bytes', 'rss').groupByTime().groupBy('instance').fill('none')).alias('$tag_instance'));
}

/** Dead letters per second by reason. */
export function rejects() {
  return timeseries('Dead letters', 'Refused messages per interval, by reason code.', 'short').withTarget(influx(Select.from('pipeline_rejects').agg('sum', 'count', 'dead letters').groupByTime().groupBy('reason').fill('0')).alias('$tag_reason'));
}

const kafka = () => Select.from('pipeline_kafka');

/** Records each Kafka consumer is behind the newest offsets (all its partitions). */
export function consumerLag() {
  return timeseries('Consumer lag', 'Records behind the newest offset, over the partitions each instance owns (workers on jl.readings, gateways on jl.ingest, incident managers on jl.anomalies). Growing lag: the group cannot keep up.', 'short')
    .thresholds(thresholds(10_000, 100_000))
    .withTarget(influx(kafka().agg('max', 'lag', 'lag').groupByTime().groupBy('instance', 'topic').fill('none')).alias('$tag_instance $tag_topic'));
}

/** Partitions each consumer-group member owns (0: it takes nothing). */
export function partitionsOwned() {
  return timeseries('Partitions owned', 'Partitions of its topic each instance owns; they move on a rebalance. A member with 0 takes no records.', 'short').withTarget(influx(kafka().agg('last', 'partitions', 'partitions').groupByTime().groupBy('instance', 'topic').fill('none')).alias('$tag_instance $tag_topic'));
}

/** The slowest offset commit per interval. */
export function commitLatency() {
  return timeseries('Commit latency', 'Slowest offset commit of each instance per interval (ms); a worker commits only what is durable, after flushing its producer.', 'ms').thresholds(thresholds(250, 1000)).withTarget(influx(kafka().agg('max', 'commit_ms_max', 'max').groupByTime().groupBy('instance', 'topic').fill('none')).alias('$tag_instance $tag_topic'));
}

/** Rebalances per interval: the increase of each member's counter (a restart starts it at 0). */
export function rebalances() {
  const q = kafka().expr('non_negative_difference(max("rebalances"))', 'rebalances').groupByTime().groupBy('instance', 'topic').fill('none');
  return timeseries('Rebalances', 'Rebalances (assign and revoke) each instance took part in per interval: members joining, leaving or missing the session timeout.', 'short').thresholds(thresholds(1, 10)).withTarget(influx(q).alias('$tag_instance $tag_topic'));
}

export function healthDashboard() {
  return dashboard('jl-pipeline-health', 'Pipeline health', 'Throughput, latency, spool, broker connection, Kafka consumers and the completeness ledger of every instance.', { from: 'now-1h', to: 'now' })
    .withRow(new RowBuilder('Completeness'))
    .withPanel(ledgerBalance().span(8))
    .withPanel(reconnects().span(8))
    .withPanel(ledger().span(24))
    .withRow(new RowBuilder('Flow'))
    .withPanel(throughput())
    .withPanel(latency())
    .withPanel(spoolDepth())
    .withPanel(rejects())
    .withRow(new RowBuilder('Kafka'))
    .withPanel(consumerLag())
    .withPanel(partitionsOwned())
    .withPanel(commitLatency())
    .withPanel(rebalances())
    .withRow(new RowBuilder('Process'))
    .withPanel(resources())
    .withPanel(memory());
}
