import { dynamoAudit } from '../audit/audit';
import { dynamoAllowlist } from '../auth/allowlist';
import { getConfig } from '../config/load';
import type { Job } from '../platform/jobs';
import { log } from '../platform/logger';
import { respondViaUrl } from '../platform/respond';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { createSlackClient } from '../slack/client';
import { createWorker, type LambdaContextLike } from '../worker/worker';

/** Invoked asynchronously by the ingress with one job; never retried automatically (see serverless.yml). */
const runJob = createWorker({
  config: getConfig,
  secrets: getSlackSecrets,
  slack: createSlackClient,
  allowlist: dynamoAllowlist,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  state: dynamoState,
  respond: respondViaUrl,
  logger: log,
  now: Date.now,
});

export async function handler(job: Job, context: LambdaContextLike): Promise<void> {
  await runJob(job, context);
}
