import { holdsRole } from '../auth/roles';
import { declaredLabels, withLabels } from '../fleet/memory-catalog';
import type { AuditDecision, AuditOutcome } from '../audit/audit';
import { approvalMessage, clock } from '../deploy/render';
import { escapeText } from '../slack/format';
import { removeBotReactions } from './bot-reactions';
import { fromItem } from './requests';
import type { ApprovalRequest } from './types';
import type { ReactionContext, ReactionHandler } from '../worker/context';

/** `+1::skin-tone-3` counts as `+1`. */
export const baseEmoji = (reaction: string): string => reaction.split('::')[0]!;

/**
 * A reaction on a request for approval (a deploy, or a script declared requiresApproval). The approve emoji adds an approval (removing it withdraws the
 * approval while the request is pending), the reject emoji ends the request. The requester's own
 * approval never counts (their reject withdraws the request); people without the approver role
 * are told so privately. Reactions on decided or expired requests are ignored without a word:
 * Slack retries and late clicks must not spam the channel or start anything.
 */
export const approveByReaction: ReactionHandler = async (ctx) => {
  const { job } = ctx;
  const request = fromItem(ctx.tracked)!;
  const { rule } = request;
  const emoji = baseEmoji(job.reaction);
  const approving = emoji === rule.approveEmoji;
  if (!approving && emoji !== rule.rejectEmoji) return;
  if (request.status !== 'pending' || ctx.now() >= rule.deadline) {
    // An approver clicking again on an approved request whose workflow was never told: tell it now.
    if (request.status === 'approved' && approving && job.added && !request.notified) await repair(ctx, request.pk);
    ctx.logger.info('reaction on a request that is no longer pending', { request: request.label, status: request.status });
    return;
  }
  if (!job.added && !approving) return; // taking back a reject changes nothing: the request already ended
  if (job.teamId !== request.teamId) {
    // A shared channel carries reactions from other workspaces; their allowlists do not decide here.
    await audit(ctx, request, 'denied', 'refused', `reaction from workspace ${job.teamId}, the request belongs to ${request.teamId}`);
    return;
  }

  if (job.userId === request.requesterId) {
    if (!job.added) return;
    if (approving) {
      await tell(
        ctx,
        request,
        `You asked for ${request.label}, so your :${rule.approveEmoji}: does not count: someone else with the ${rule.approverRole} role has to approve it.`,
      );
      await audit(ctx, request, 'denied', 'refused', 'the requester cannot approve their own request');
      return;
    }
    await decide(ctx, request, 'cancelled');
    return;
  }

  const entry = await ctx.allowlist.get(job.teamId, job.userId);
  if (!holdsRole(entry, rule.approverRole, withLabels({ service: request.target, channelId: request.channelId }, declaredLabels(ctx.config)))) {
    const reason = `no ${rule.approverRole} role for ${request.target} in this channel`;
    if (!job.added) {
      await audit(ctx, request, 'denied', 'refused', `${reason} (reaction removed)`);
      return;
    }
    await tell(
      ctx,
      request,
      `Your :${emoji}: on ${request.label} is ignored: approving or rejecting requests for \`${request.target}\` needs the \`${rule.approverRole}\` role${rule.approverRole === 'admin' ? '' : ' (or admin)'} for it in this channel. \`/ecs whoami\` shows yours.`,
    );
    await audit(ctx, request, 'denied', 'refused', reason);
    return;
  }

  if (!approving) {
    await decide(ctx, request, 'rejected');
    return;
  }
  const key = request.pk;
  if (!job.added) {
    const after = await ctx.approvals.requests.withdraw(key, job.userId);
    if (!after) return;
    await audit(ctx, after, 'allowed', 'success', 'approval withdrawn');
    await Promise.all([
      update(ctx, after),
      note(ctx, after, `↩️ <@${job.userId}> withdrew their approval (${after.approvals?.length ?? 0} of ${rule.required}).`),
    ]);
    return;
  }
  const after = await ctx.approvals.requests.approve(key, job.userId, ctx.now());
  if (!after) {
    // Already counted (a ✅ added again) or decided meanwhile. If an earlier attempt stored the
    // approval but died before deciding, or decided but could not wake the workflow, finish it now.
    await repair(ctx, key);
    return;
  }
  // Recorded while the decision goes on: the audit write is not on the way to the deploy.
  const audited = audit(ctx, after, 'allowed', 'success', 'approved');
  if ((after.approvals?.length ?? 0) >= rule.required) {
    await Promise.all([decide(ctx, after, 'approved'), audited]);
    return;
  }
  await audited;
  await Promise.all([update(ctx, after), note(ctx, after, `👍 <@${job.userId}> approved (${after.approvals?.length ?? 0} of ${rule.required}).`)]);
};

/** Completes what an interrupted approval left half done; a no-op when there is nothing to do. */
async function repair(ctx: ReactionContext, key: string): Promise<void> {
  const current = await ctx.approvals.requests.get(key);
  if (!current?.approvals?.includes(ctx.job.userId)) return;
  if (current.status === 'pending' && current.approvals.length >= current.rule.required) await decide(ctx, current, 'approved');
  else if (current.status === 'approved' && current.callbackId && !current.notified) await notify(ctx, current, 'approved');
}

/** Completes the workflow's callback with the decision and records that it got through. */
async function notify(ctx: ReactionContext, request: ApprovalRequest, status: 'approved' | 'rejected' | 'cancelled'): Promise<void> {
  if (!request.callbackId) return;
  await ctx.approvals.sendDecision(request.callbackId, { status, by: request.decidedBy ?? ctx.job.userId }, ctx.logger);
  await ctx.approvals.requests.markNotified(request.pk);
}

/** Ends a pending request; only the caller whose conditional update wins goes on. */
async function decide(ctx: ReactionContext, request: ApprovalRequest, status: 'approved' | 'rejected' | 'cancelled'): Promise<void> {
  const decided = await ctx.approvals.requests.decide(request.pk, status, ctx.job.userId, ctx.now(), status === 'approved' ? request.rule.required : undefined);
  if (!decided) return;
  if (status !== 'approved') await audit(ctx, decided, 'allowed', 'success', status);
  // The workflow waits on this callback; without an id yet, it reads the decision when it attaches one.
  let failure: unknown;
  await notify(ctx, decided, status).catch((error: unknown) => (failure = error));
  const late = failure
    ? `\n⚠️ The workflow could not be told yet (${escapeText((failure as Error).message)}); reacting again retries, and it finds the decision by ${clock(decided.rule.deadline)} at the latest.`
    : '';
  const text =
    status === 'approved'
      ? `👍 Approved by ${(decided.approvals ?? [ctx.job.userId]).map((u) => `<@${u}>`).join(', ')}: ${decided.doing} now.`
      : status === 'rejected'
        ? `🙅 <@${ctx.job.userId}> rejected the request. Nothing was changed.`
        : `🚫 <@${ctx.job.userId}> withdrew the request. Nothing was changed.`;
  // A deploy's thread opens its rollout message with who approved, a gate's says what was sent to ECS: a note would say it twice.
  const noted = status !== 'approved' || decided.kind === 'run' || late ? note(ctx, decided, text + late) : undefined;
  await Promise.all([update(ctx, decided), noted, removeBotReactions(ctx.slack, decided, ctx.logger)]);
  if (failure) throw failure;
}

async function update(ctx: ReactionContext, request: ApprovalRequest): Promise<void> {
  await ctx.slack.chat
    .update({ channel: request.channelId, ts: request.messageTs, text: approvalMessage(request) })
    .catch((error: unknown) => ctx.logger.warn('could not update the request message', { error }));
}

async function note(ctx: ReactionContext, request: ApprovalRequest, text: string): Promise<void> {
  await ctx.slack.chat
    .postMessage({ channel: request.channelId, thread_ts: request.threadTs ?? request.messageTs, text })
    .catch((error: unknown) => ctx.logger.warn('could not post in the thread', { error }));
}

async function tell(ctx: ReactionContext, request: ApprovalRequest, text: string): Promise<void> {
  await ctx.slack.chat
    .postEphemeral({ channel: request.channelId, user: ctx.job.userId, text })
    .catch((error: unknown) => ctx.logger.warn('could not send the ephemeral note', { error }));
}

async function audit(ctx: ReactionContext, request: ApprovalRequest, decision: AuditDecision, outcome: AuditOutcome, reason: string): Promise<void> {
  const { job } = ctx;
  await ctx
    .audit()
    .record({
      id: job.id,
      teamId: job.teamId,
      userId: job.userId,
      channelId: request.channelId,
      commandText: `:${job.reaction}: ${job.added ? 'added to' : 'removed from'} ${request.kind} ${request.id}`,
      verb: 'approve',
      target: request.target,
      decision,
      reason,
      outcome,
      at: new Date(ctx.now()).toISOString(),
      threadTs: request.messageTs,
      detail: { kind: request.kind, id: request.id, eventId: job.eventId, requester: request.requesterId, approvals: request.approvals ?? [] },
    })
    .catch((error: unknown) => ctx.logger.error('audit failed', { error }));
}
