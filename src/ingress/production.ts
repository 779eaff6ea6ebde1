import { dynamoAudit } from '../audit/audit';
import { dynamoAllowlist } from '../auth/allowlist';
import { getConfig } from '../config/load';
import { DynamoCatalog } from '../fleet/catalog';
import { lambdaDispatcher } from '../platform/jobs';
import { respondViaUrl } from '../platform/respond';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { channelAccessCheck } from '../slack/channel-access';
import type { IngressDeps } from './ingress';
import { wakeRunWorkflow } from '../workflows/run-wake';

/** The ingress as deployed: DynamoDB stores, SSM secrets, asynchronous Lambda hand-off. */
export const productionIngressDeps = (): IngressDeps => ({
  config: getConfig,
  secrets: getSlackSecrets,
  allowlist: dynamoAllowlist,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  jobs: lambdaDispatcher,
  state: dynamoState,
  wakeRun: (callbackId) => wakeRunWorkflow(callbackId, 'ack'),
  respond: respondViaUrl,
  channelAccess: channelAccessCheck(),
  now: Date.now,
  // Read only with `fleet:` configured, for a service the command names that is not declared.
  catalog: new DynamoCatalog(),
});
