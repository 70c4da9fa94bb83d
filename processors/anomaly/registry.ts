import type { Detector } from '../../core/anomaly.js';
import type { DetectionConfig } from './config.js';
import { energyDetector } from './energy/index.js';
import { flatlineDetector } from './flatline/index.js';
import { floodDetector } from './flood/index.js';
import { forgeryDetector } from './forgery/index.js';
import { rangeDetector } from './range/index.js';
import { rateDetector } from './rate/index.js';
import { replayDetector } from './replay/index.js';
import { silenceDetector } from './silence/index.js';
import { spikeDetector } from './spike/index.js';
import type { DetectorContext } from './state.js';
import { v2xDetector } from './v2x/index.js';

/** Every anomaly processor, in the order they see each reading. */
export const DETECTORS = ['range', 'spike', 'rate', 'flatline', 'silence', 'replay', 'forgery', 'flood', 'v2x', 'energy'] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** The enabled processors, built from their config sections. */
export function buildDetectors(cfg: DetectionConfig, ctx: DetectorContext): Detector[] {
  const make: Record<DetectorName, () => Detector> = {
    range: () => rangeDetector(cfg.range, ctx),
    spike: () => spikeDetector(cfg.spike),
    rate: () => rateDetector(cfg.rate),
    flatline: () => flatlineDetector(cfg.flatline),
    silence: () => silenceDetector(cfg.silence, cfg.regionPartials),
    replay: () => replayDetector(cfg.replay, ctx),
    forgery: () => forgeryDetector(cfg.forgery, ctx),
    flood: () => floodDetector(cfg.flood, cfg.regionPartials),
    v2x: () => v2xDetector(cfg.v2x),
    energy: () => energyDetector(cfg.energy),
  };
  return DETECTORS.filter((n) => cfg[n].enabled).map((n) => make[n]());
}
