/**
 * What the run workflow's two kinds of run share (a detached script, src/workflows/run.ts; a
 * job's task, src/workflows/run-job.ts): AWS as the person who asked, the thread, posts made once
 * per run even when a step runs again, the approval wait, the wait between polls that a cancel can
 * end, and the end's bookkeeping (audit, cancel record, run record, lock).
 *
 * Replay rules (see src/workflows/run.ts): whatever touches the outside world runs inside a step.
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { WebClient } from '@slack/web-api';
import { awaitApproval, notApprovedSummary, type Decision } from '../approval/await-approval';
import type { Approvals } from '../approval/approvals';
import type { AuditLog } from '../audit/audit';
import { AwsSession } from '../aws/session';
import type { Config } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { cancelKey, runKey, runPostKey } from '../platform/state-keys';
import type { Outcome } from '../slack/thread-output';
import type { RunWorkflowInput } from './inputs';
import { postOnce } from './post-once';
import type { RunWake } from './run-wake';
import { remainingTime, workflowThread } from './thread';

export interface RunWorkflowResult {
  outcome: Outcome;
  summary: string;
  exitCode?: number;
  /** Follow steps taken. */
  polls: number;
}

export interface RunWorkflowDeps {
  config: () => Config;
  /** Requests for approval (scripts and jobs declared requiresApproval). */
  approvals: Approvals;
  /** A Slack client with the bot token (createSlackClient: rate limits reject, not sleep). */
  slack: () => Promise<WebClient>;
  state: StateStore;
  /** The wait between polls, kept on the run record so a cancel can end it early (src/workflows/run-wake.ts). */
  wake: RunWake;
  audit: () => AuditLog;
  logger: Logger;
  /** Only read inside steps (durations for the thread), never to decide the workflow's path. */
  now?: () => number;
  /** Deadline of one exec session of the workflow (start, follow, cat); default 120 s. */
  sessionTimeoutMs?: number;
}

/** Claims on posts live a day: far longer than any step retry. */
const POST_CLAIM_TTL = 86_400;
/** Starting a script twice is worse than reporting that the start failed. */
export const NO_RETRY = () => ({ shouldRetry: false });
/** Follows, the stop and the finish are safe to repeat: retry a few times, a few seconds apart. */
export const RETRY = (_error: Error, attempt: number) => ({ shouldRetry: attempt < 4, delay: { seconds: 5 * attempt } });

/** At most how many polls a run of `timeoutSeconds` gets before it is stopped. */
export const maxPolls = (input: Pick<RunWorkflowInput, 'timeoutSeconds' | 'pollSeconds'>) => Math.max(1, Math.ceil(input.timeoutSeconds / input.pollSeconds));

/** A cancel found by a step: who asked. */
export const readCancel = (deps: Pick<RunWorkflowDeps, 'state'>, runId: string) => deps.state.get<{ by?: string }>(cancelKey(runId));

export function runWorkflowKit(deps: RunWorkflowDeps, input: RunWorkflowInput, context: DurableContext) {
  const now = deps.now ?? Date.now;
  const remainingMs = remainingTime(context);
  const logger = deps.logger.child({ runId: input.runId, script: input.script, ...(input.job ? { kind: 'job' } : {}) });

  /** AWS access for one step, as the person who asked (same actor as the worker). */
  const withAws = async <T>(work: (aws: AwsSession) => Promise<T>): Promise<T> => {
    const target = deps.config().targets[input.target];
    if (!target) throw new UserFacingError(`Target \`${input.target}\` is no longer in the configuration.`);
    const aws = new AwsSession(target, { teamId: input.teamId, userId: input.userId, ...(input.userName ? { userName: input.userName } : {}) });
    try {
      return await work(aws);
    } finally {
      aws.destroy();
    }
  };
  const thread = workflowThread({
    slack: deps.slack,
    channel: input.channelId,
    parentTs: input.parentTs,
    remainingMs,
    logger,
    ...(input.parentText ? { parentText: input.parentText } : {}),
  });
  /** Posts once per (run, key), even if the step runs again. */
  const once = async (key: string, post: () => Promise<void>) => void (await postOnce(deps.state, runPostKey(input.runId, key), POST_CLAIM_TTL, post));

  /** The approval, when the run needs one: the decision, and the refusal that ends the run when it was not approved. */
  const approval = async (): Promise<{ decision?: Decision; refusal?: string }> => {
    if (!input.approval) return {};
    const decision = await awaitApproval(
      context,
      {
        approvals: deps.approvals,
        slack: deps.slack,
        logger,
        now,
        post: (key, text) => once(key, async () => void (await (await thread()).post(text))),
        retryStrategy: RETRY,
      },
      { ...input.approval, channelId: input.channelId, parentTs: input.parentTs },
    );
    return { decision, ...(decision.status !== 'approved' ? { refusal: notApprovedSummary(decision) } : {}) };
  };

  /**
   * The wait before poll `n`: the poll interval raced against a callback (one per wait) whose id is
   * on the run record. The cancel record decides in the poll that follows; the callback only wakes.
   */
  const waitForPoll = async (n: number, seconds = input.pollSeconds): Promise<void> => {
    const [woken, callbackId] = await context.createCallback(`wake-${n}`, { timeout: { seconds: seconds + 60 } });
    await context.step(
      `arm-${n}`,
      async () => {
        await deps.wake.arm(input.runId, callbackId);
        // Cancelled before this wait's id was on the record: nobody else can wake it.
        if (await readCancel(deps, input.runId)) await deps.wake.wake(callbackId);
      },
      { retryStrategy: RETRY },
    );
    await context.promise
      .race<unknown>(`wait-${n}`, [woken, context.wait(`sleep-${n}`, { seconds })])
      .catch((error: unknown) => logger.info('wake callback ended without a wake', { error }));
  };

  /** The run is over: the audit record first, then the records and the lock, before the thread says it ended. */
  const settle = async (end: { outcome: Outcome; summary: string }, detail: Record<string, unknown>) => {
    await deps
      .audit()
      .complete(input.audit, { outcome: end.outcome, durationMs: now() - input.startedAt, reason: end.summary, threadTs: input.parentTs, detail })
      .catch((error: unknown) => logger.error('audit completion failed', { error }));
    await deps.state.release(cancelKey(input.runId)).catch(() => undefined);
    await deps.state.release(runKey(input.runId)).catch(() => undefined);
    if (input.lockKey) await deps.state.release(input.lockKey, { runId: input.runId }).catch(() => undefined);
  };

  return { now, logger, withAws, thread, once, approval, waitForPoll, settle };
}
