import { dynamoAudit } from '../audit/audit';
import { dynamoAllowlist } from '../auth/allowlist';
import { getConfig } from '../config/load';
import type { HttpEvent, HttpResult } from '../ingress/http';
import { createIngress } from '../ingress/ingress';
import { lambdaDispatcher } from '../platform/jobs';
import { log } from '../platform/logger';
import { respondViaUrl } from '../platform/respond';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';

/** API Gateway HTTP API → Slack's three kinds of request (commands, events, interactivity). */
const ingress = createIngress({
  config: getConfig,
  secrets: getSlackSecrets,
  allowlist: dynamoAllowlist,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  jobs: lambdaDispatcher,
  state: dynamoState,
  respond: respondViaUrl,
  now: Date.now,
});

export async function handler(event: HttpEvent): Promise<HttpResult> {
  try {
    return await ingress(event);
  } catch (error) {
    // Something we could not handle: Slack shows the user a failure, and the log says why.
    log.error('ingress failed', { error, stack: (error as Error).stack });
    return { statusCode: 500, body: 'internal error' };
  }
}
