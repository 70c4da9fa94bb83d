import type { Logger } from 'pino';
import { higherGrade } from '../config/catalogue.js';
import type { Anomaly, Category, Level } from '../core/anomaly.js';
import type { IncidentsConfig } from './config.js';
import { levelOf, reportDeadline } from './grading.js';
import { incidentKey, type Incident, type IncidentState, type TimelineEntry } from './incident.js';
import { IncidentLog, type Checkpoint, type LogRecord } from './incident-log.js';

export type { IncidentsConfig } from './config.js';

export type IncidentEvent = TimelineEntry['event'];
/** Hears every change after it is in the log; `n` is the log record's number (unique). */
export type IncidentListener = (event: IncidentEvent, incident: Incident, n: number) => void;

export interface IncidentFilter {
  /** `unresolved`: open or acknowledged. */
  state?: IncidentState | 'unresolved';
  /** Most severe level last: `maxLevel: 3` lists I, II and III. */
  maxLevel?: Level;
  category?: Category;
  sector?: string;
  region?: string;
  overdue?: boolean;
}

export class IncidentError extends Error {
  constructor(readonly kind: 'not_found' | 'conflict', message: string) {
    super(message);
  }
}

const MAX_TIMELINE = 100;
const WEEK = 7 * 86_400_000;
/** Devices counted beyond the listed `maxDevices` (in memory, not logged): this many times it. */
const OVERFLOW_FACTOR = 10;

export interface IncidentManagerOptions {
  /** Log key: each record, the head and every checkpoint carry its HMAC. */
  key?: Buffer;
  /** Hears a checkpoint of the log head (for InfluxDB and alert subscribers: off this host). */
  onCheckpoint?: (c: Checkpoint) => void;
}

/** A change kept in memory while the log does not take it; `inc` is its state at the change. */
interface Unlogged {
  event: IncidentEvent;
  at: number;
  inc: Incident;
}

/**
 * Turns anomalies into incidents: deduplicated by key, graded by scope, with report-by deadlines
 * and an overdue state, a lifecycle open -> acknowledged -> resolved, and flap control (a
 * threshold to open, reopening instead of a new incident when a signal returns soon after
 * resolution). Every change is appended to the hash-chained log before listeners hear of it
 * (a change the log refuses waits in memory, see `logWritable`), and the state is rebuilt from
 * that log at start.
 */
export class IncidentManager {
  private readonly byId = new Map<string, Incident>();
  /** The live (open or acknowledged) incident of each key, or the last resolved one. */
  private readonly byKey = new Map<string, Incident>();
  private readonly pending = new Map<string, { n: number; first: number }>();
  private readonly dirty = new Set<string>();
  private readonly lastLogged = new Map<string, number>();
  private readonly listeners: IncidentListener[] = [];
  /** Devices of an incident beyond its listed ones, for an exact count (see OVERFLOW_FACTOR). */
  private readonly moreDevices = new Map<string, Set<string>>();
  /** Changes the log has not taken yet, in order; listeners hear of them once it does. */
  private readonly unlogged: Unlogged[] = [];
  private logError?: string;
  private headErrorLogged = false;
  private lastCheckpoint = { n: 0, at: 0 };
  private seq = 0;
  private timer?: NodeJS.Timeout;
  readonly log: IncidentLog;

  /**
   * Rebuilds the state from the log at `file` (throwing when it cannot be read); `onRestored` sees
   * each record as it is read.
   */
  constructor(
    file: string,
    private readonly cfg: IncidentsConfig,
    private readonly logger?: Logger,
    private readonly clock: () => number = Date.now,
    onRestored?: (r: LogRecord) => void,
    private readonly opts: IncidentManagerOptions = {},
  ) {
    this.log = new IncidentLog(file, opts.key, logger);
    for (const r of this.log.open()) {
      onRestored?.(r);
      this.byId.set(r.incident.id, r.incident);
      this.byKey.set(r.incident.key, r.incident);
      this.seq = Math.max(this.seq, Number(r.incident.id.split('-').at(-1)) || 0);
    }
    if (this.byId.size) logger?.info({ incidents: this.byId.size, open: this.list({ state: 'open' }).total }, 'incidents restored from the log');
    this.prune(clock());
  }

  /**
   * False while a change waits for the log (it could not be written; retried every tick) or the
   * head file is stale: for /readyz. Nothing is lost meanwhile, short of the process dying.
   */
  get logWritable(): boolean {
    return this.unlogged.length === 0 && !this.log.headError;
  }

  /** Changes waiting for the log. */
  get unloggedChanges(): number {
    return this.unlogged.length;
  }

  on(fn: IncidentListener): void {
    this.listeners.push(fn);
  }

  /** Merges an anomaly into its incident, opening, reopening or escalating one as needed. */
  observe(a: Anomaly): void {
    const now = this.clock();
    const key = incidentKey(a);
    let inc = this.byKey.get(key);
    if (inc && inc.state === 'resolved' && now - (inc.resolvedAt ?? 0) > this.cfg.reopenWindowMs) inc = undefined;
    if (!inc) {
      if (!this.threshold(key, now)) return;
      this.open(a, key, now);
      return;
    }
    const before = inc.level;
    this.merge(inc, a, now);
    if (inc.state === 'resolved') {
      inc.state = 'open';
      inc.reopened++;
      delete inc.resolvedAt;
      delete inc.resolvedBy;
      this.record(inc, 'reopened', now, { note: a.detail });
    } else if (inc.level < before) {
      this.record(inc, 'escalated', now, { level: inc.level, note: `scope: ${inc.deviceCount} device(s)${inc.regionWide ? ', region-wide' : ''}` });
    } else {
      this.dirty.add(inc.id);
    }
  }

  private threshold(key: string, now: number): boolean {
    if (this.cfg.openAfter <= 1) return true;
    let p = this.pending.get(key);
    if (!p || now - p.first > this.cfg.openWindowMs) this.pending.set(key, (p = { n: 0, first: now }));
    if (++p.n < this.cfg.openAfter) return false;
    this.pending.delete(key);
    return true;
  }

  private open(a: Anomaly, key: string, now: number): void {
    const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
    const inc: Incident = {
      id: `INC-${day}-${String(++this.seq).padStart(6, '0')}`,
      key,
      detector: a.detector,
      kind: a.kind,
      category: a.category,
      level: a.baseLevel,
      state: 'open',
      sector: a.sector,
      region: a.region,
      code: a.code,
      grade: a.grade,
      criticalInfrastructure: false,
      regionWide: false,
      title: `${a.detector}.${a.kind} in ${a.sector}/${a.region}`,
      lastDetail: a.detail,
      openedAt: now,
      updatedAt: now,
      firstEventMs: a.eventMs,
      lastEventMs: a.eventMs,
      count: 0,
      devices: {},
      deviceCount: 0,
      active: true,
      overdue: false,
      reopened: 0,
      timeline: [],
    };
    this.merge(inc, a, now);
    inc.reportBy = reportDeadline(inc.level, inc.criticalInfrastructure, now, this.cfg.grading);
    this.byId.set(inc.id, inc);
    this.byKey.set(key, inc);
    this.record(inc, 'opened', now, { level: inc.level, note: a.detail });
  }

  private merge(inc: Incident, a: Anomaly, now: number): void {
    inc.count++;
    inc.updatedAt = now;
    inc.active = true;
    inc.lastDetail = a.detail;
    if (a.evidence) inc.lastEvidence = a.evidence;
    inc.firstEventMs = Math.min(inc.firstEventMs, a.eventMs);
    inc.lastEventMs = Math.max(inc.lastEventMs, a.eventMs);
    inc.criticalInfrastructure ||= a.criticalInfrastructure;
    inc.regionWide ||= !!a.regionWide;
    inc.grade = higherGrade(inc.grade, a.grade);
    if (a.device && !(a.device in inc.devices)) {
      if (inc.deviceCount < this.cfg.maxDevices) {
        inc.devices[a.device] = a.eventMs;
        inc.deviceCount++;
      } else {
        // Past the list, an exact set (in memory) up to OVERFLOW_FACTOR x maxDevices: beyond it
        // new devices are not counted; after a restart those past the list may count again.
        let more = this.moreDevices.get(inc.id);
        if (!more) this.moreDevices.set(inc.id, (more = new Set()));
        if (!more.has(a.device) && more.size < this.cfg.maxDevices * OVERFLOW_FACTOR) {
          more.add(a.device);
          inc.deviceCount++;
        }
      }
    }
    const level = Math.min(inc.level, levelOf(inc, a.baseLevel, this.cfg.grading)) as Level;
    if (level !== inc.level) {
      inc.level = level;
      // A deadline is set once, when the incident first becomes reportable.
      inc.reportBy ??= reportDeadline(level, inc.criticalInfrastructure, now, this.cfg.grading);
    }
  }

  /**
   * Appends to the log first (durable), then tells listeners. Never throws: a change the log does
   * not take is kept (a copy, in order) and retried by `flush`; listeners hear of it then.
   */
  private record(inc: Incident, event: IncidentEvent, now: number, extra: Omit<TimelineEntry, 'at' | 'event'> = {}): void {
    if (event !== 'updated') {
      inc.timeline.push({ at: now, event, ...extra });
      if (inc.timeline.length > MAX_TIMELINE) inc.timeline.splice(1, inc.timeline.length - MAX_TIMELINE);
    }
    this.dirty.delete(inc.id);
    this.lastLogged.set(inc.id, now);
    if (this.unlogged.length === 0 && this.append(event, inc, now)) return;
    this.unlogged.push({ event, at: now, inc: structuredClone(inc) });
    this.flush();
  }

  /** One append and its listeners; false (the error logged once per outage) when it failed. */
  private append(event: IncidentEvent, inc: Incident, at: number): boolean {
    let n: number;
    try {
      n = this.log.append(at, event, inc).n;
    } catch (e) {
      if (this.logError === undefined) this.logger?.error({ err: (e as Error).message, file: this.log.file, incident: inc.id, event }, 'incident log write failed: changes are kept in memory and retried; alerts wait for the log');
      this.logError = (e as Error).message;
      return false;
    }
    if (this.logError !== undefined) {
      this.logger?.warn({ file: this.log.file, waiting: this.unlogged.length }, 'incident log writable again');
      this.logError = undefined;
    }
    this.noteHead();
    for (const fn of this.listeners) {
      try {
        fn(event, inc, n);
      } catch (e) {
        this.logger?.error({ err: (e as Error).message, incident: inc.id }, 'incident listener failed');
      }
    }
    return true;
  }

  /** Retries the changes the log has not taken (in order) and a stale head file. */
  private flush(now = this.clock()): void {
    while (this.unlogged.length) {
      const u = this.unlogged[0];
      if (!this.append(u.event, u.inc, u.at)) break;
      this.unlogged.shift();
    }
    if (this.log.headError !== undefined && this.log.records > 0) this.log.retryHead(now);
    this.noteHead();
  }

  /** Logs a failing head file once per outage (the records are in the log: nothing waits). */
  private noteHead(): void {
    if (this.log.headError === undefined) this.headErrorLogged = false;
    else if (!this.headErrorLogged) {
      this.headErrorLogged = true;
      this.logger?.error({ err: this.log.headError, file: this.log.headFile }, 'incident log head write failed: retried every tick');
    }
  }

  acknowledge(id: string, by: string, note?: string, reported = false): Incident {
    const inc = this.get(id);
    if (inc.state !== 'open') throw new IncidentError('conflict', `incident ${id} is ${inc.state}, not open`);
    const now = this.clock();
    inc.state = 'acknowledged';
    inc.acknowledgedAt = now;
    inc.acknowledgedBy = by;
    inc.updatedAt = now;
    if (reported) this.markReported(inc, by, now);
    this.record(inc, 'acknowledged', now, { by, note });
    return inc;
  }

  resolve(id: string, by: string, note?: string, reported = false): Incident {
    const inc = this.get(id);
    if (inc.state === 'resolved') throw new IncidentError('conflict', `incident ${id} is already resolved`);
    const now = this.clock();
    inc.state = 'resolved';
    inc.resolvedAt = now;
    inc.resolvedBy = by;
    inc.updatedAt = now;
    inc.active = false;
    if (reported) this.markReported(inc, by, now);
    this.record(inc, 'resolved', now, { by, note });
    return inc;
  }

  /** Marks an incident reported to the authority (meets its report-by deadline), in any state. */
  report(id: string, by: string, note?: string): Incident {
    const inc = this.get(id);
    if (inc.reportedAt) throw new IncidentError('conflict', `incident ${id} was already reported`);
    const now = this.clock();
    inc.reportedAt = now;
    inc.reportedBy = by;
    inc.overdue = false;
    inc.updatedAt = now;
    this.record(inc, 'reported', now, { by, note });
    return inc;
  }

  private markReported(inc: Incident, by: string, now: number): void {
    if (inc.reportedAt) return;
    inc.reportedAt = now;
    inc.reportedBy = by;
    inc.overdue = false;
    inc.timeline.push({ at: now, event: 'reported', by });
  }

  get(id: string): Incident {
    const inc = this.byId.get(id);
    if (!inc) throw new IncidentError('not_found', `no incident ${id}`);
    return inc;
  }

  /** Newest first. */
  list(f: IncidentFilter = {}, offset = 0, limit = 100): { total: number; items: Incident[] } {
    const all = [...this.byId.values()].filter(
      (i) =>
        (!f.state || i.state === f.state || (f.state === 'unresolved' && i.state !== 'resolved')) &&
        (!f.maxLevel || i.level <= f.maxLevel) &&
        (!f.category || i.category === f.category) &&
        (!f.sector || i.sector === f.sector) &&
        // A city's code (ending 00) also matches its counties, as subscription filters do.
        (!f.region || i.region === f.region || (f.region.endsWith('00') && i.region.startsWith(f.region.slice(0, 4)))) &&
        (f.overdue === undefined || i.overdue === f.overdue),
    );
    all.sort((a, b) => b.openedAt - a.openedAt || b.id.localeCompare(a.id));
    return { total: all.length, items: all.slice(offset, offset + limit) };
  }

  all(): Incident[] {
    return [...this.byId.values()];
  }

  /**
   * Retries the log, marks deadlines missed, signals gone quiet, logs merged anomalies
   * (throttled), sends a checkpoint when due, and forgets old resolved incidents.
   */
  tick(now = this.clock()): void {
    this.flush(now);
    for (const inc of this.byId.values()) {
      if (inc.state === 'resolved') continue;
      if (inc.reportBy && !inc.reportedAt && !inc.overdue && now > inc.reportBy) {
        inc.overdue = true;
        this.record(inc, 'overdue', now, { note: `report was due by ${new Date(inc.reportBy).toISOString()}` });
      }
      if (inc.active && now - inc.updatedAt > this.cfg.clearAfterMs) {
        inc.active = false;
        this.record(inc, 'cleared', now, { note: 'signal quiet' });
      }
    }
    // While the log fails, merges stay dirty instead of queueing a copy per tick.
    if (this.unlogged.length === 0) {
      for (const id of this.dirty) {
        const inc = this.byId.get(id)!;
        if (now - (this.lastLogged.get(id) ?? 0) >= this.cfg.logUpdatesEveryMs) this.record(inc, 'updated', now);
      }
    }
    if (now - this.lastCheckpoint.at >= (this.cfg.checkpointEveryMs ?? 60_000)) this.checkpoint(now);
    this.prune(now);
  }

  /** Sends a checkpoint of the log head when it moved since the last one. */
  private checkpoint(now: number): void {
    if (!this.opts.onCheckpoint || this.log.records === this.lastCheckpoint.n) return;
    const c = this.log.checkpoint(now);
    this.lastCheckpoint = { n: c.n, at: now };
    try {
      this.opts.onCheckpoint(c);
    } catch (e) {
      this.logger?.error({ err: (e as Error).message }, 'incident log checkpoint listener failed');
    }
  }

  /**
   * Forgets incidents resolved longer than `keepResolvedMs` (and the reopen window) ago, from
   * memory only: the log keeps them.
   */
  private prune(now: number): void {
    const keep = Math.max(this.cfg.keepResolvedMs ?? WEEK, this.cfg.reopenWindowMs);
    const waiting = new Set(this.unlogged.map((u) => u.inc.id));
    for (const [id, inc] of this.byId) {
      if (inc.state !== 'resolved' || now - (inc.resolvedAt ?? now) <= keep || waiting.has(id)) continue;
      this.byId.delete(id);
      if (this.byKey.get(inc.key) === inc) this.byKey.delete(inc.key);
      this.dirty.delete(id);
      this.lastLogged.delete(id);
      this.moreDevices.delete(id);
    }
  }

  /**
   * Writes every change held in memory (throttled merges, retries) to the log now; throws when
   * the log cannot take them. A consumer of jl.anomalies calls it before it commits, so a
   * committed anomaly is in the log.
   */
  persist(now = this.clock()): void {
    this.flush(now);
    for (const id of [...this.dirty]) this.record(this.byId.get(id)!, 'updated', now);
    if (this.unlogged.length) throw new Error(`incident log not writable (${this.unlogged.length} changes waiting): ${String(this.logError)}`);
  }

  /** Runs `tick` every `everyMs` (deadlines, cleared signals, throttled merges) until `close`. */
  start(everyMs = 1000): void {
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref();
  }

  /** Writes pending merges to the log, sends a last checkpoint, and closes it. */
  close(): void {
    clearInterval(this.timer);
    const now = this.clock();
    this.flush(now);
    for (const id of [...this.dirty]) this.record(this.byId.get(id)!, 'updated', now);
    if (this.unlogged.length) this.logger?.error({ lost: this.unlogged.length, file: this.log.file, err: this.logError }, 'incident log still not writable at close: these changes are lost');
    this.checkpoint(now);
    this.log.close();
  }

  counts(): Record<string, number> {
    const c: Record<string, number> = { open: 0, acknowledged: 0, resolved: 0, overdue: 0 };
    for (const i of this.byId.values()) {
      c[i.state]++;
      if (i.overdue) c.overdue++;
    }
    return c;
  }
}
