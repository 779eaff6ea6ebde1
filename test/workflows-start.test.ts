import { afterEach, describe, expect, it, vi } from 'vitest';
import { startDeployWorkflow, startRunWorkflow } from '../src/workflows/start';
import type { DeployWorkflowInput, RunWorkflowInput } from '../src/workflows/inputs';

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Without its workflow function a deployment cannot follow a long run or a deploy: it says so and starts nothing. */
describe('starting a workflow in a deployment that does not declare it', () => {
  it('a long run names the script, how long it may take and the missing setting', async () => {
    vi.stubEnv('RUN_WORKFLOW_FUNCTION_NAME', '');
    const input = { runId: 'r1', script: 'backup.sh', timeoutSeconds: 3600 } as RunWorkflowInput;
    await expect(startRunWorkflow(input)).rejects.toMatchObject({
      userMessage: expect.stringMatching(/^`backup\.sh` may run for 1 h 0 min, .*RUN_WORKFLOW_FUNCTION_NAME is not set\)\. Nothing was started\.$/),
    });
  });
  it('a deploy names the missing setting', async () => {
    vi.stubEnv('DEPLOY_WORKFLOW_FUNCTION_NAME', '');
    await expect(startDeployWorkflow({ deployId: 'd1' } as DeployWorkflowInput)).rejects.toMatchObject({
      userMessage: expect.stringContaining('DEPLOY_WORKFLOW_FUNCTION_NAME is not set'),
    });
  });
});
