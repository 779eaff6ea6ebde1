import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { dynamoAudit } from '../audit/audit';
import { createDeployWorkflow, type DeployWorkflowDeps } from '../workflows/deploy';
import { getConfig } from '../config/load';
import { sendDecision } from '../approval/callback';
import { dynamoDeployHistory } from '../deploy/history';
import { dynamoApprovalRequests } from '../approval/requests';
import { log } from '../platform/logger';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { createSlackClient } from '../slack/client';

/**
 * The durable workflow of `/ecs deploy` and `/ecs rollback` (src/workflows/deploy.ts),
 * started by the worker once the request is posted. Deployed with a DurableConfig (serverless.yml).
 */
export const productionDeployWorkflowDeps = (): DeployWorkflowDeps => ({
  slack: async () => createSlackClient((await getSlackSecrets()).botToken),
  state: dynamoState,
  approvals: { requests: dynamoApprovalRequests, sendDecision },
  history: dynamoDeployHistory,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  logger: log,
});

export const handler = withDurableExecution(createDeployWorkflow(productionDeployWorkflowDeps()));
