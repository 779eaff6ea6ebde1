import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { dynamoAudit } from '../audit/audit';
import { createRunWorkflow } from '../workflows/run';
import { createJobWorkflow } from '../workflows/run-job';
import type { RunWorkflowDeps } from '../workflows/run-kit';
import type { FleetWorkflowInput, RunWorkflowInput } from '../workflows/inputs';
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import { dynamoRunWake } from '../workflows/run-wake';
import { getConfig } from '../config/load';
import { sendDecision } from '../approval/callback';
import { dynamoApprovalRequests } from '../approval/requests';
import { log } from '../platform/logger';
import { getSlackSecrets } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { createSlackClient } from '../slack/client';

const deps: RunWorkflowDeps = {
  config: getConfig,
  approvals: { requests: dynamoApprovalRequests, sendDecision },
  slack: async () => createSlackClient((await getSlackSecrets()).botToken),
  state: dynamoState,
  wake: dynamoRunWake,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  logger: log,
};
const scripts = createRunWorkflow(deps);
const jobs = createJobWorkflow(deps);
// Fleet runs load their code (the verify engine, every client it uses, the catalog) on the first one only.
let fleets: Promise<(input: FleetWorkflowInput, context: DurableContext) => Promise<unknown>> | undefined;
const fleetWorkflow = () =>
  (fleets ??= Promise.all([import('../workflows/fleet'), import('../fleet/fleet-catalog')]).then(([{ createFleetWorkflow }, { fleetCatalog }]) =>
    createFleetWorkflow({ ...deps, catalog: () => fleetCatalog(getConfig()) }),
  ));

/**
 * The durable workflow of long `/ecs run`s (src/workflows/run.ts), `/ecs job`s
 * (src/workflows/run-job.ts) and fleet runs (`/ecs status|verify <selector>`,
 * src/workflows/fleet.ts), invoked asynchronously by the worker with a qualified name.
 * Deployed with a DurableConfig (serverless.yml): Lambda checkpoints each step and re-invokes this
 * handler after every wait.
 */
export const handler = withDurableExecution(
  (input: RunWorkflowInput | FleetWorkflowInput, context: DurableContext): Promise<unknown> =>
    'fleet' in input ? fleetWorkflow().then((run) => run(input, context)) : input.job ? jobs(input, context) : scripts(input, context),
);
