import { createApi } from '../api/api';
import { productionApiDeps } from '../api/production';
import { getConfig } from '../config/load';
import { withSchedules } from '../schedules/principal';
import { createScheduledTarget, type ScheduledEvent } from '../schedules/target';

/**
 * EventBridge Scheduler's target (serverless.yml, the schedules from the configuration): submits the
 * schedule's script or job as the schedule's principal. A hand-off that failed throws, so Lambda
 * retries the asynchronous invocation; the idempotency key keeps it to one run.
 */
const deps = productionApiDeps();
const api = createApi({ ...deps, allowlist: withSchedules(deps.allowlist, getConfig) });
const target = createScheduledTarget({ config: getConfig, submit: api.submit });

export async function handler(event: ScheduledEvent) {
  return target(event);
}
