import { sendDecision } from '../approval/callback';
import { dynamoApprovalRequests } from '../approval/requests';
import { dynamoAudit } from '../audit/audit';
import { dynamoAllowlist } from '../auth/allowlist';
import { getConfig } from '../config/load';
import { dynamoDeployHistory } from '../deploy/history';
import { log } from '../platform/logger';
import { respondViaUrl, withdrawViaUrl } from '../platform/respond';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { createSlackClient } from '../slack/client';
import { withSchedules } from '../schedules/principal';
import { awsSchedules } from '../schedules/scheduler';
import { startDeployWorkflow, startFleetWorkflow, startRunWorkflow } from '../workflows/start';
import type { WorkerDeps } from './worker';

/** The worker's collaborators in AWS: the tables, Slack, the deploy workflow. Built by its handler, once per cold start. */
export const productionWorkerDeps = (): WorkerDeps => ({
  config: getConfig,
  secrets: getSlackSecrets,
  slack: createSlackClient,
  // A schedule's runs are re-authorised with the grant its declaration gives it (src/schedules/principal.ts).
  allowlist: withSchedules(dynamoAllowlist, getConfig),
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  state: dynamoState,
  approvals: { requests: dynamoApprovalRequests, sendDecision },
  deployHistory: dynamoDeployHistory,
  startDeployWorkflow,
  startRunWorkflow,
  startFleetWorkflow,
  schedules: awsSchedules(),
  respond: respondViaUrl,
  withdraw: withdrawViaUrl,
  logger: log,
  now: Date.now,
});
