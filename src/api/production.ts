import { dynamoAudit, readAuditRecord } from '../audit/audit';
import { dynamoAllowlist } from '../auth/allowlist';
import { getConfig } from '../config/load';
import { lambdaDispatcher } from '../platform/jobs';
import { dynamoState } from '../platform/state';
import type { ApiDeps } from './api';
import { dynamoRateLimiter } from './rate-limit';

/** The signed API as deployed: the ingress's stores, the same asynchronous hand-off to the worker. No Slack secret: it never talks to Slack. */
export const productionApiDeps = (): ApiDeps => ({
  config: getConfig,
  allowlist: dynamoAllowlist,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  jobs: lambdaDispatcher,
  state: dynamoState,
  rateLimiter: dynamoRateLimiter(),
  readAudit: readAuditRecord,
  now: Date.now,
});
