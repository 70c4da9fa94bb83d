import type { Registry } from 'prom-client';
import type { IncidentManager } from '../alerts/incidents.js';
import type { Subscription } from '../alerts/subscription.js';
import type { SubscriptionStore } from '../alerts/subscriptions.js';
import type { CapacityPlan } from '../capacity/planner.js';
import type { Catalogue } from '../config/catalogue.js';
import type { VerifyResult } from '../alerts/incident-log.js';
import type { ApiToken } from './auth.js';
import type { DeviceView } from './views/device-activity.js';

/** What the HTTP API reads from and acts on in the running pipeline. */
export interface ApiContext {
  /**
   * Readiness, asked on every `/readyz`: `ok` gives 200 or 503; `checks` and, when present,
   * `detail` are sent as they are.
   */
  ready: () => { ok: boolean; checks: Record<string, boolean>; detail?: Record<string, unknown> };
  stats: () => unknown;
  catalogue: () => Catalogue;
  /** Absent in a role that keeps no incidents (Kafka gateway, worker): their routes are not mounted. */
  incidents?: IncidentManager;
  subscriptions?: SubscriptionStore;
  /** The tokens in force, read on every authenticated request (so a reload takes effect). */
  tokens: () => ApiToken[];
  metrics: Registry;
  /** The registered devices with when each was last heard (the console); absent where not kept. */
  devices?: () => DeviceView[];
  /** Dead letters since start: the last hour by minute and the latest letters. */
  deadLetters?: () => { minutes: unknown[]; totals: Record<string, number>; latest: unknown[] };
  /** Test alerts and delivery status per subscription. */
  delivery?: { sendTest: (sub: Subscription, by: string) => string; status: (subscription: string) => unknown };
  /** Checks the incident log's hash chain (and MACs) as `jlpipe incidents verify` does. */
  verifyChain?: () => VerifyResult;
  /** The capacity plan over the given horizon (reads InfluxDB; rejects when it cannot). */
  capacity?: (horizonMs: number) => Promise<CapacityPlan>;
}

/** The context of a process that keeps incidents and subscriptions. */
export type IncidentContext = ApiContext & { incidents: IncidentManager; subscriptions: SubscriptionStore };
