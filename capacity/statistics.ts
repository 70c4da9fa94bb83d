import { Point } from '@influxdata/influxdb-client';
import type { CatalogueEntry, CatalogueView } from '../core/catalogue.js';
import type { Registry } from '../core/device.js';
import type { Stage } from '../core/runtime/runtime.js';
import type { Anomaly } from '../core/anomaly.js';
import type { Outcome, RawMessage, Reading } from '../core/types.js';
import type { CapacityConfig } from './config.js';

/** Province-wide division code: the region of a finding about the whole province. */
export const PROVINCE = '220000';

/** What the pipeline knows about itself at a flush, for `pipeline_health`. */
export interface HealthSnapshot {
  received: number;
  stored: number;
  deadLettered: number;
  inSpool: number;
  /** Handed back to the source unsettled (redelivered later). */
  nacked: number;
  pending: number;
  spoolBytes: number;
  spoolLimit: number;
  influxUp: boolean;
  /** Absent for a process without MQTT (a Kafka worker): the fields are then not written. */
  mqttConnected?: boolean;
  reconnects?: number;
  anomalies: number;
  outbox: number;
}

export interface PipelineStatsOptions {
  /**
   * Count accepted readings into `pipeline_stats` (default true). In the Kafka topology a
   * reading passes a gateway and then a worker; only the worker (which stores it) counts it,
   * so a gateway sets this false and writes only `pipeline_rejects` and `pipeline_health`.
   */
  readings?: boolean;
}

/** Counters of one catalogue resource in one region. */
interface Group {
  entry: CatalogueEntry;
  /** Messages accepted; each is one point. */
  messages: number;
  bytes: number;
  values: number;
  /** Distinct series written since start: devices per catalogue version (a version bump makes new series). */
  series: Map<string, Set<string>>;
  /** Newest arrival per device, for devices online. */
  lastSeen: Map<string, number>;
}

const MAX_LATENCY_SAMPLES = 50_000;

/**
 * The pipeline's statistics about itself, per sector, region and catalogue resource: messages,
 * points, payload bytes, field values, series, devices online and CPU time (SPEC 7). Counting is
 * on the hot path and O(1) per message; `lines` drains an interval into line protocol for
 * `pipeline_stats`, `pipeline_rejects` and `pipeline_health`. Calls never overlap.
 */
export class PipelineStats implements Stage {
  readonly name = 'statistics';
  /** Groups by code, then region (no key string built per message). */
  private readonly byCode = new Map<string, Map<string, Group>>();
  private rejects = new Map<string, number>();
  private latencies: number[] = [];
  private latencySeen = 0;
  private cpu = process.cpuUsage();
  private lastFlush = Date.now();
  private lastReceived = 0;
  private registered?: { registry: Registry; counts: Map<string, number> };
  /** Resources whose series are over their catalogue budget now (raised once until back under). */
  private readonly overBudget = new Set<string>();
  private readonly countReadings: boolean;

  /** `instance` tags every line: unique per process (the single process's client id, a role's roleId). */
  constructor(
    private readonly ctx: CatalogueView,
    private readonly config: CapacityConfig,
    private readonly instance: string,
    options: PipelineStatsOptions = {},
  ) {
    this.countReadings = options.readings ?? true;
  }

  /** Counts one ingested message (hot path). */
  observe(outcome: Outcome, msg: RawMessage): void {
    if (!outcome.ok) {
      const [sector, region] = outcome.rejection.source.split('/');
      const key = `${outcome.rejection.reason}|${this.ctx.catalogue().sectors.has(sector) ? sector : 'unknown'}|${/^[0-9]{6}$/.test(region ?? '') ? region : 'unknown'}`;
      this.rejects.set(key, (this.rejects.get(key) ?? 0) + 1);
      return;
    }
    if (!this.countReadings) return;
    const r = outcome.reading;
    const g = this.group(r);
    g.messages++;
    g.bytes += msg.payload.length;
    for (const _ in r.fields) g.values++;
    let devices = g.series.get(r.tags.catalog_version);
    if (!devices) g.series.set(r.tags.catalog_version, (devices = new Set()));
    devices.add(r.device);
    g.lastSeen.set(r.device, msg.receivedAt);
  }

  /** Publish-to-durable latency of a stored batch (sampled when the interval is busy). */
  stored(readings: Reading[], at: number): void {
    for (const r of readings) {
      this.latencySeen++;
      if (this.latencies.length < MAX_LATENCY_SAMPLES) this.latencies.push(at - r.receivedAt);
      else {
        const i = Math.floor(Math.random() * this.latencySeen);
        if (i < MAX_LATENCY_SAMPLES) this.latencies[i] = at - r.receivedAt;
      }
    }
  }

  private group(r: Reading): Group {
    let regions = this.byCode.get(r.tags.code);
    if (!regions) this.byCode.set(r.tags.code, (regions = new Map<string, Group>()));
    let g = regions.get(r.tags.region);
    if (!g) {
      const entry = this.ctx.catalogue().entries.find((e) => e.code === r.tags.code)!;
      g = { entry, messages: 0, bytes: 0, values: 0, series: new Map(), lastSeen: new Map() };
      regions.set(r.tags.region, g);
    }
    return g;
  }

  /** Every group by `code|region`. */
  private groups(): Map<string, Group> {
    const out = new Map<string, Group>();
    for (const [code, regions] of this.byCode) for (const [region, g] of regions) out.set(`${code}|${region}`, g);
    return out;
  }

  private static seriesOf(g: Group): number {
    let n = 0;
    for (const devices of g.series.values()) n += devices.size;
    return n;
  }

  /** Devices registered per `code|region`, recounted only when the registry changes. */
  private registeredCounts(): Map<string, number> {
    const catalogue = this.ctx.catalogue();
    const registry = this.ctx.registry();
    if (this.registered?.registry === registry) return this.registered.counts;
    const counts = new Map<string, number>();
    for (const d of registry.values()) {
      for (const t of d.types) {
        const e = catalogue.byType.get(`${d.sector}/${t}`);
        if (e) counts.set(`${e.code}|${d.region}`, (counts.get(`${e.code}|${d.region}`) ?? 0) + 1);
      }
    }
    this.registered = { registry, counts };
    return counts;
  }

  /** Series written per catalogue resource (all regions), since start. */
  seriesByCode(): Map<string, number> {
    const out = new Map<string, number>();
    for (const g of this.groups().values()) out.set(g.entry.code, (out.get(g.entry.code) ?? 0) + PipelineStats.seriesOf(g));
    return out;
  }

  /**
   * Resources newly over their catalogue `cardinalityBudget`, as anomalies for the incident
   * manager: too many series is a hazard to the store (and often a sign of forged device ids).
   */
  budgetAnomalies(now: number): Anomaly[] {
    const out: Anomaly[] = [];
    for (const [code, series] of this.seriesByCode()) {
      const entry = this.ctx.catalogue().entries.find((e) => e.code === code);
      if (!entry) continue;
      if (series <= entry.cardinalityBudget) {
        this.overBudget.delete(code);
        continue;
      }
      if (this.overBudget.has(code)) continue;
      this.overBudget.add(code);
      out.push({
        detector: 'capacity',
        kind: 'cardinality_budget',
        category: 'security-hazard',
        baseLevel: 4,
        sector: entry.sector,
        region: PROVINCE,
        code,
        grade: entry.grade,
        criticalInfrastructure: false,
        regionWide: false,
        eventMs: now,
        field: 'series',
        value: series,
        detail: `${code} (${entry.measurement}) has ${series} series, over its catalogue cardinality budget of ${entry.cardinalityBudget}`,
      });
    }
    return out;
  }

  /** Drains the interval into line protocol; `now` stamps every point. */
  lines(now: number, health: HealthSnapshot): string[] {
    const intervalMs = Math.max(1, now - this.lastFlush);
    this.lastFlush = now;
    const cpu = process.cpuUsage(this.cpu);
    this.cpu = process.cpuUsage();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const groups = this.groups();
    let messages = 0;
    for (const g of groups.values()) messages += g.messages;
    const out: string[] = [];
    const at = new Date(now);
    const registered = this.countReadings ? this.registeredCounts() : new Map<string, number>();
    const catalogue = this.ctx.catalogue();
    const keys = new Set([...registered.keys(), ...groups.keys()]);
    for (const key of keys) {
      const [code, region] = key.split('|');
      const g = groups.get(key);
      const entry = g?.entry ?? catalogue.entries.find((e) => e.code === code);
      if (!entry) continue;
      const window = Math.max(60_000, this.config.onlineCycles * entry.updateCycleMs);
      let online = 0;
      if (g) for (const [device, seen] of g.lastSeen) {
        if (seen >= now - window) online++;
        else if (seen < now - 10 * window) g.lastSeen.delete(device); // long gone: forget
      }
      out.push(
        new Point('pipeline_stats')
          .tag('sector', entry.sector)
          .tag('region', region)
          .tag('code', code)
          .tag('measurement', entry.measurement)
          .tag('instance', this.instance)
          .intField('messages', g?.messages ?? 0)
          .intField('points', g?.messages ?? 0)
          .intField('bytes', g?.bytes ?? 0)
          .intField('field_values', g?.values ?? 0)
          .intField('series', g ? PipelineStats.seriesOf(g) : 0)
          .intField('devices_online', online)
          .intField('devices_registered', registered.get(key) ?? 0)
          .floatField('cpu_ms', messages ? (cpuMs * (g?.messages ?? 0)) / messages : 0)
          .intField('interval_ms', intervalMs)
          .timestamp(at)
          .toLineProtocol()!,
      );
      if (g) g.messages = g.bytes = g.values = 0;
    }
    for (const [key, count] of this.rejects) {
      const [reason, sector, region] = key.split('|');
      out.push(new Point('pipeline_rejects').tag('reason', reason).tag('sector', sector).tag('region', region).tag('instance', this.instance).intField('count', count).timestamp(at).toLineProtocol()!);
    }
    this.rejects = new Map();
    const lat = this.latencies.sort((a, b) => a - b);
    const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : 0);
    const p = new Point('pipeline_health')
      .tag('instance', this.instance)
      .floatField('rate', ((health.received - this.lastReceived) * 1000) / intervalMs)
      .intField('received', health.received)
      .intField('stored', health.stored)
      .intField('dead_lettered', health.deadLettered)
      .intField('in_spool', health.inSpool)
      .intField('pending', health.pending)
      // received - (stored + dead-lettered + spooled + handed back + in flight): 0 when nothing is lost.
      .intField('unbalanced', health.received - health.stored - health.deadLettered - health.inSpool - health.nacked - health.pending)
      .intField('spool_bytes', health.spoolBytes)
      .floatField('spool_ratio', health.spoolLimit ? health.spoolBytes / health.spoolLimit : 0)
      .booleanField('influx_up', health.influxUp)
      .intField('anomalies', health.anomalies)
      .intField('outbox', health.outbox)
      .intField('latency_samples', this.latencySeen)
      .floatField('cpu_pct', (cpuMs * 100) / intervalMs)
      .intField('rss_bytes', process.memoryUsage.rss());
    if (health.mqttConnected !== undefined) p.booleanField('mqtt_connected', health.mqttConnected);
    if (health.reconnects !== undefined) p.intField('reconnects', health.reconnects);
    if (lat.length) p.floatField('latency_p50_ms', pct(0.5)).floatField('latency_p99_ms', pct(0.99)).floatField('latency_max_ms', lat[lat.length - 1]);
    out.push(p.timestamp(at).toLineProtocol()!);
    this.lastReceived = health.received;
    this.latencies = [];
    this.latencySeen = 0;
    return out;
  }
}
