/**
 * Starting the durable workflows from the worker: an asynchronous invoke of the workflow's
 * qualified name, idempotent by the execution's name. Kept apart from the workflows themselves, so
 * the worker loads neither their code nor their SDK to start one.
 */
import { startDurableExecution } from '../aws/lambda';
import { optionalEnv } from '../config/env';
import { UserFacingError } from '../platform/errors';
import type { DeployWorkflowInput } from './inputs';

/** Starts the deploy workflow (src/handlers/deploy-workflow.ts); DurableExecutionName makes a retried invoke return the same execution. */
export async function startDeployWorkflow(input: DeployWorkflowInput): Promise<void> {
  const functionName = optionalEnv('DEPLOY_WORKFLOW_FUNCTION_NAME');
  if (!functionName)
    throw new UserFacingError(
      'This deployment has no deploy workflow function (DEPLOY_WORKFLOW_FUNCTION_NAME is not set), so deploys cannot be approved or watched. Nothing was changed.',
    );
  await startDurableExecution(functionName, input, 'deploy workflow', `deploy-${input.deployId}`);
}
