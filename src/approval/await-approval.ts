/**
 * The approval half of a durable workflow (deploys, and scripts declared requiresApproval): wait on
 * a callback that whoever decides the request completes (src/approval/approve.ts), then read the
 * request itself, which is the truth: a decision made before the callback existed, an expiry racing
 * an approval and a failed callback all end in one status.
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../platform/logger';
import type { Approvals } from './approvals';
import { removeBotReactions } from './bot-reactions';
import { approvalMessage, clock } from '../deploy/render';
import type { RequestStatus } from './types';

/** Who withdrew a request that could not be shown (src/approval/announce.ts). */
export const WITHDRAWN_BY_BOT = 'ecs-chatops';

/** Checkpointed result of the `decision` step. */
export interface Decision {
  status: Exclude<RequestStatus, 'pending'>;
  approvals: string[];
  decidedBy?: string;
  decidedAt?: number;
}

export interface ApprovalWait {
  requestKey: string;
  /** Epoch ms: the wait lasts from `requestedAt` to `deadline` (input values, so replays agree). */
  requestedAt: number;
  deadline: number;
  channelId: string;
  /** The approval message (marked expired when it expires). */
  parentTs: string;
  /** Names of the wait and its decision step when a workflow waits more than once (gates); default `approval`. */
  name?: string;
  /** What the thread is told when the request expires; default: nothing was changed. */
  expiredText?: string;
}

/** What the wait needs besides the approvals: the workflow's Slack client, clock, claimed post and retries. */
export interface ApprovalWaitDeps {
  approvals: Approvals;
  slack: () => Promise<WebClient>;
  logger: Logger;
  now: () => number;
  /** Posts once in the thread (the workflow's claimed post). */
  post: (key: string, text: string) => Promise<void>;
  retryStrategy: (error: Error, attempt: number) => { shouldRetry: boolean; delay?: { seconds: number } };
}

export async function awaitApproval(context: DurableContext, deps: ApprovalWaitDeps, wait: ApprovalWait): Promise<Decision> {
  const waitSeconds = Math.max(1, Math.ceil((wait.deadline - wait.requestedAt) / 1000));
  try {
    await context.waitForCallback(
      wait.name ?? 'approval',
      async (callbackId) => {
        const request = await deps.approvals.requests.attachCallback(wait.requestKey, callbackId);
        // Decided before the callback existed: nobody else could complete it.
        if (request && request.status !== 'pending')
          await deps.approvals.sendDecision(callbackId, { status: request.status, ...(request.decidedBy ? { by: request.decidedBy } : {}) }, deps.logger);
      },
      { timeout: { seconds: waitSeconds } },
    );
  } catch (error) {
    // Timed out (the request expired) or failed: the request's own status decides below.
    deps.logger.info('approval wait ended without a decision', { error: (error as Error).message });
  }
  return context.step(
    wait.name ? `${wait.name}-decision` : 'decision',
    async (): Promise<Decision> => {
      let request = await deps.approvals.requests.get(wait.requestKey);
      // Enough approvals were stored before the deadline but never decided (the worker died between
      // the two updates): they count.
      if (request?.status === 'pending' && (request.approvals?.length ?? 0) >= request.rule.required) {
        request =
          (await deps.approvals.requests.decide(wait.requestKey, 'approved', request.approvals!.at(-1)!, deps.now(), request.rule.required)) ??
          (await deps.approvals.requests.get(wait.requestKey));
      }
      if (request?.status === 'pending') {
        request =
          (await deps.approvals.requests.decide(wait.requestKey, 'expired', 'deadline', deps.now())) ?? (await deps.approvals.requests.get(wait.requestKey));
        if (request?.status === 'expired') {
          const client = await deps.slack();
          await client.chat
            .update({ channel: wait.channelId, ts: wait.parentTs, text: approvalMessage(request) })
            .catch((e: unknown) => deps.logger.warn('could not mark the request expired', { error: e }));
          await removeBotReactions(client, request, deps.logger);
          await deps.post('expired', wait.expiredText ?? `⌛ The request expired at ${clock(wait.deadline)} without enough approvals. Nothing was changed.`);
        }
      }
      if (!request) return { status: 'cancelled', approvals: [] };
      return {
        status: request.status === 'pending' ? 'expired' : request.status,
        approvals: request.approvals ?? [],
        ...(request.decidedBy ? { decidedBy: request.decidedBy } : {}),
        ...(request.decidedAt ? { decidedAt: request.decidedAt } : {}),
      };
    },
    { retryStrategy: deps.retryStrategy },
  );
}

/** How an unapproved request ended, for the parent message. */
export function notApprovedSummary(decision: Decision): string {
  if (decision.status === 'rejected') return `rejected by <@${decision.decidedBy}>`;
  if (decision.status === 'cancelled')
    return decision.decidedBy === WITHDRAWN_BY_BOT ? 'withdrawn: the request could not be shown in Slack' : 'withdrawn by the requester';
  return 'expired without approval';
}
