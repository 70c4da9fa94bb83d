import type { PipelineConfig } from '../config.js';
import type { Logger } from 'pino';
import { startGateway } from './gateway.js';
import { startIncidents } from './incidents.js';
import type { RoleName, RunningRole } from './role.js';
import { startWorker } from './worker.js';

export const ROLES: RoleName[] = ['gateway', 'worker', 'incidents'];

/** Starts one role of the Kafka topology in this process (`jlpipe start --role`). */
export function startRole(role: RoleName, instance: string, config: PipelineConfig, log: Logger): Promise<RunningRole> {
  const ctx = { role, instance, config, log: log.child({ role, instance }) };
  if (role === 'gateway') return startGateway(ctx);
  if (role === 'worker') return startWorker(ctx);
  return startIncidents(ctx);
}
