/**
 * Starting the durable workflows from the worker: an asynchronous invoke of the workflow's
 * qualified name, idempotent by the execution's name. Kept apart from the workflows themselves, so
 * the worker loads neither their code nor their SDK to start one.
 */
import { startDurableExecution } from '../aws/lambda';
import { optionalEnv } from '../config/env';
import { UserFacingError } from '../platform/errors';
import { code, formatDuration } from '../slack/format';
import type { DeployWorkflowInput, FleetWorkflowInput, RunWorkflowInput } from './inputs';

/** Starts the deploy workflow (src/handlers/deploy-workflow.ts); DurableExecutionName makes a retried invoke return the same execution. */
export async function startDeployWorkflow(input: DeployWorkflowInput): Promise<void> {
  const functionName = optionalEnv('DEPLOY_WORKFLOW_FUNCTION_NAME');
  if (!functionName)
    throw new UserFacingError(
      'This deployment has no deploy workflow function (DEPLOY_WORKFLOW_FUNCTION_NAME is not set), so deploys cannot be approved or watched. Nothing was changed.',
    );
  await startDurableExecution(functionName, input, 'deploy workflow', `deploy-${input.deployId}`);
}

/**
 * Starts the run workflow (src/handlers/run-workflow.ts), which follows a detached run (and waits
 * for its approval first, when the script needs one); DurableExecutionName `run-<runId>` makes a
 * retried invoke return the same execution.
 */
export async function startRunWorkflow(input: RunWorkflowInput): Promise<void> {
  const functionName = optionalEnv('RUN_WORKFLOW_FUNCTION_NAME');
  if (!functionName)
    throw new UserFacingError(
      `${code(input.script)} may run for ${formatDuration(input.timeoutSeconds * 1000)}, longer than one Lambda can follow it, and such runs need the durable workflow function, which this deployment does not declare (RUN_WORKFLOW_FUNCTION_NAME is not set). Nothing was started.`,
    );
  await startDurableExecution(functionName, input, 'run workflow', `run-${input.runId}`);
}

/**
 * Starts a fleet run (`/ecs status|verify <selector>`) on the run workflow's function, which
 * dispatches on the input (src/handlers/run-workflow.ts); `fleet-<runId>` makes a retried invoke
 * return the same execution.
 */
export async function startFleetWorkflow(input: FleetWorkflowInput): Promise<void> {
  const functionName = optionalEnv('RUN_WORKFLOW_FUNCTION_NAME');
  if (!functionName)
    throw new UserFacingError(
      'Fleet commands fan out on the durable workflow function, which this deployment does not declare (RUN_WORKFLOW_FUNCTION_NAME is not set). Nothing was started.',
    );
  await startDurableExecution(functionName, input, 'fleet workflow', `fleet-${input.runId}`);
}
