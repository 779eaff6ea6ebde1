/**
 * The deploy workflow's two steps for `suspendAutoscaling` (src/deploy/autoscaling-suspend.ts):
 * `autoscaling-suspend` before UpdateService, `autoscaling-resume` before the deploy's `finish`,
 * whatever the ending (success, failure, rollback, timeout, a step that failed for good). Both
 * are durable steps: checkpointed, retried, and safe to run twice (the state before the deploy is
 * noted once, in the state table, before anything changes).
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { AwsSession } from '../aws/session';
import { resumeLine, resumeScaling, suspendLine, suspendScaling, type ResumeResult, type SuspendResult } from '../deploy/autoscaling-suspend';
import type { Logger } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { deploySuspendKey } from '../platform/state-keys';
import { escapeText } from '../slack/format';
import type { DeployWorkflowInput } from './inputs';

export interface AutoscalingKit {
  context: DurableContext;
  input: DeployWorkflowInput;
  state: StateStore;
  logger: Logger;
  withAws: <T>(work: (aws: AwsSession) => Promise<T>) => Promise<T>;
  /** Posts once per key in the deploy's thread; throws when Slack did not take it. */
  post: (key: string, text: string) => Promise<void>;
  retry: (error: Error, attempt: number) => { shouldRetry: boolean; delay: { seconds: number } };
  /** A refusal (no retry will change it), as { ok: false, message }; anything else thrown. */
  refused: (error: unknown, doing: string) => { ok: false; message: string };
  permanent: (error: unknown) => boolean;
}

/** Suspends the service's scaling activities, or says why it could not (the deploy then stops before UpdateService). */
export function suspendForDeploy(kit: AutoscalingKit): Promise<SuspendResult | { ok: false; message: string }> {
  const { input } = kit;
  return kit.context.step(
    'autoscaling-suspend',
    async () =>
      kit
        .withAws(async (aws) => {
          const result = await suspendScaling(aws, input.where, kit.state, deploySuspendKey(input.deployId));
          // Said in the thread inside the step: a post that fails retries the step, which finds its note.
          await kit.post('autoscaling-suspend', suspendLine(input.target, result));
          return result;
        })
        .catch((error: unknown) => kit.refused(error, 'suspending autoscaling')),
    { retryStrategy: kit.retry },
  );
}

/** Puts the scaling activities back as they were; never throws (a failure is said in the thread and returned). */
export async function resumeAfterDeploy(kit: AutoscalingKit): Promise<ResumeResult> {
  const { input } = kit;
  const say = (result: ResumeResult) =>
    kit.post('autoscaling-resume', resumeLine(input.target, result)).catch((error: unknown) => kit.logger.warn('autoscaling resume not said', { error }));
  const result = await kit.context
    .step(
      'autoscaling-resume',
      async () => {
        const resumed = await kit.withAws((aws) => resumeScaling(aws, input.where, kit.state, deploySuspendKey(input.deployId), kit.permanent));
        await say(resumed);
        return resumed;
      },
      { retryStrategy: kit.retry },
    )
    .catch((error: unknown): ResumeResult => ({ state: 'failed', message: escapeText((error as Error).message) }));
  if (result.state === 'failed' && !result.restore) {
    // The step failed for good (AWS kept failing): said from a step of its own.
    kit.logger.error('autoscaling not resumed', { message: result.message });
    await kit.context.step('autoscaling-resume-failed', async () => {
      await say(result);
      return true;
    });
  }
  return result;
}
