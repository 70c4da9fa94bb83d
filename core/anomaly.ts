/**
 * Contracts of the anomaly processors and the incidents they raise. No I/O here.
 *
 * A detector sees readings (in arrival order, with event-time lateness marked) and rejections,
 * and emits Anomalies. The incident manager turns anomalies into graded Incidents.
 */
import type { CatalogueEntry, Grade } from './catalogue.js';
import type { Device } from './device.js';
import type { Reading, Rejection } from './types.js';

/** Incident categories after GB/T 20986-2023 (信息安全事件分类分级指南). */
export const CATEGORIES = [
  'malware', // 恶意程序事件
  'network-attack', // 网络攻击事件
  'data-security', // 数据安全事件
  'information-content', // 信息内容安全事件
  'device-fault', // 设备设施故障事件
  'violation', // 违规操作事件
  'security-hazard', // 安全隐患事件
  'abnormal-behaviour', // 异常行为事件
  'force-majeure', // 不可抗力事件
  'other', // 其他事件
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Levels: I 特别重大, II 重大, III 较大, IV 一般. Lower number is more severe. */
export type Level = 1 | 2 | 3 | 4;
export const LEVEL_NAMES: Record<Level, string> = { 1: 'I', 2: 'II', 3: 'III', 4: 'IV' };

/** One detection: something a processor found about one device (or one region) at one time. */
export interface Anomaly {
  /** Processor that found it, e.g. `spike`. */
  detector: string;
  /** What it found, e.g. `level_shift`; `detector.kind` is the incident's kind. */
  kind: string;
  category: Category;
  /** The level before escalation by scope (usually 4). */
  baseLevel: Level;
  /** A catalogue sector; a rejection's claimed sector may be anything the topic said. */
  sector: string;
  region: string;
  /** Device id; absent for a region-wide anomaly. */
  device?: string;
  /** Catalogue resource code and its grade; grade drives escalation and alert clearance. */
  code?: string;
  grade: Grade;
  criticalInfrastructure: boolean;
  /** Region-wide signal (whole region quiet, region flood): escalates by one level. */
  regionWide?: boolean;
  /** Event time of the evidence, ms. */
  eventMs: number;
  field?: string;
  value?: number | string;
  score?: number;
  detail: string;
  /** Why a scored series alerted: the view that fired, how unlikely, against which baseline. */
  evidence?: AnomalyEvidence;
}

/** The scoring core's reasons (processors/anomaly/score), for the incident detail. */
export interface AnomalyEvidence {
  /** `level` (forecast), `daily` (usual for the hour), `range` (beyond every value seen). */
  view: string;
  /** Likelihood tail of the view: how often so unusual a value is, for this series. */
  likelihood: number;
  /** The baseline compared with and its noise scale; `min`/`max` for the range rule. */
  expected: number;
  noise: number;
  /** Residual in noise units. */
  z: number;
  /** Local hour of day (0-23) of the reading. */
  hour: number;
}

export type Emit = (a: Anomaly) => void;

/** A reading handed to detectors, with what they need to judge it. */
export interface DetectInput {
  reading: Reading;
  entry: CatalogueEntry;
  device: Device;
  /**
   * `device|measurement`: the key of the reading's series in per-device state. One string per
   * reading, shared by every processor, so the state of 100,000 devices holds one key string per
   * series rather than one per processor (built from the registry's id, not the topic's).
   */
  key: string;
  /**
   * The device's slot in the engine: a small integer, stable while the device has state, that
   * processors keeping a row of numbers per device index their tables by (processors/anomaly/
   * rows.ts) instead of hashing a key.
   */
  slot: number;
  /**
   * True when the reading is older than its device's newest one (out of order) but within the
   * allowed lateness: value detectors score it, detectors that compare neighbours in time skip it.
   * Readings later than the allowed lateness never reach detectors: they are counted as late.
   */
  outOfOrder: boolean;
  /** The event-time watermark: the newest event time seen so far. */
  watermark: number;
}

/**
 * An anomaly processor. Calls never overlap. `reading` and `rejection` are called in arrival
 * order; `tick` is called about once a second with the event-time watermark (the newest event
 * time seen, advanced by wall time while nothing arrives). `expire` drops the state of devices
 * whose newest event is older than `before`, which bounds memory.
 */
export interface Detector {
  readonly name: string;
  /** Also called for readings later than the allowed lateness (replay detection needs them). */
  readonly lateToo?: boolean;
  reading?(input: DetectInput, emit: Emit): void;
  rejection?(r: Rejection, emit: Emit): void;
  /** `watermarkOf`, when given, is the watermark a device's absence is judged at (its partition's). */
  tick?(watermark: number, emit: Emit, watermarkOf?: (device: string) => number): void;
  expire(before: number): void;
  /** Devices (or keys) holding state now. */
  size(): number;
  /**
   * The device's state as a JSON-safe copy, undefined when none: a worker taking over a Kafka
   * partition restores it, so it does not re-learn baselines and raise false anomalies.
   * Region-wide state is not included: it is not the device's.
   */
  snapshot?(device: string, slot: number): unknown;
  /**
   * Replaces the device's state by a snapshot (undefined clears it). Throws on a malformed one,
   * leaving the state as it was, so the engine can refuse the whole snapshot. `slot` is the
   * device's slot in the engine (see DetectInput), -1 when it has none.
   */
  restore?(device: string, state: unknown, slot: number): void;
}
