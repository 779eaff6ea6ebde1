/**
 * Handing a run to the durable run workflow (src/handlers/run-workflow.ts), for scripts
 * (src/commands/run.ts) and jobs (src/commands/job.ts) alike: runs longer than one Lambda, and
 * runs that wait for an approval first. The worker posts the living message (or stores and shows
 * the request for approval) and starts the workflow, idempotent by the run id; the workflow then
 * owns the run's lock and record and releases them at the end.
 */
import { abandonRequest, announceRequest } from '../approval/announce';
import { ruleFrom, type ApprovalRequest } from '../approval/types';
import { runWorkflowPollSeconds } from '../config/env';
import { trackedKey as requestKeyFor } from '../platform/state-keys';
import { escapeText, formatDuration, typedCode } from '../slack/format';
import { commandText, requesterText } from '../slack/invocation';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { CommandOrigin, RunWorkflowInput } from '../workflows/inputs';

/** Time kept back from the Lambda's deadline to report and upload. */
export const REPORT_RESERVE_MS = 60_000;
/** Time between follows of a detached run (RUN_WORKFLOW_POLL_SECONDS overrides it). */
const DEFAULT_POLL_SECONDS = 30;

/** Time between the run workflow's follows of a detached run. */
export const pollSecondsOf = () => Math.max(1, runWorkflowPollSeconds() || DEFAULT_POLL_SECONDS);

/** Who asked, the thread and its parent's text (kept when the workflow marks the outcome), the audit record. */
export function commandOrigin(ctx: WorkerContext, startedAt: number): CommandOrigin {
  const { invocation } = ctx.job;
  return {
    teamId: invocation.teamId,
    userId: invocation.userId,
    ...(invocation.userName ? { userName: invocation.userName } : {}),
    channelId: invocation.channelId,
    parentTs: ctx.out.parentTs,
    parentText: `${requesterText(invocation)} ran ${typedCode(commandText(invocation))}`,
    audit: ctx.job.audit,
    startedAt,
  };
}

/** The workflow input's fields every run has, from the worker's job (who, where, its audit record). */
export function handOffInput(
  ctx: WorkerContext,
  run: { runId: string; name: string; args: string[]; target: string; lockKey: string | undefined; startedAt: number; timeoutSeconds: number },
): RunWorkflowInput {
  return {
    runId: run.runId,
    script: run.name,
    args: run.args,
    target: run.target,
    ...commandOrigin(ctx, run.startedAt),
    ...(run.lockKey ? { lockKey: run.lockKey } : {}),
    timeoutSeconds: run.timeoutSeconds,
    pollSeconds: pollSecondsOf(),
  };
}

/** A run the worker hands to the workflow. */
export interface HandOff {
  /** What it runs, as the thread names it: `backup.sh nightly`, or `job \`migrate 0042\``. */
  label: string;
  /** `label` as shown in a message (already code-formatted). */
  shown: string;
  runId: string;
  target: string;
  timeoutSeconds: number;
  requiresApproval: boolean;
  /** Where it runs, for the notices: "runs detached in the container", "runs in its own ECS task". */
  how: string;
  /** What the approvers see under the request's headline. */
  details: string[];
  /** The workflow's input, without the approval (added here when one is asked for). */
  input: RunWorkflowInput;
}

export async function handOff(ctx: WorkerContext, h: HandOff): Promise<CommandResult> {
  const limit = formatDuration(h.timeoutSeconds * 1000);
  const every = formatDuration(h.input.pollSeconds * 1000);
  const input = { ...h.input };
  // Without an approval to wait for, the run's living message is posted now and the workflow edits it.
  const notice = `⏳ ${h.shown} (run \`${h.runId}\`) may take up to ${limit}, longer than one Lambda: it ${h.how}, followed by a durable workflow. This message shows its latest output every ${every}; \`/ecs cancel ${h.runId}\` stops it.`;
  const living = h.requiresApproval ? undefined : await ctx.out.living(notice);
  if (living?.ts) input.progressTs = living.ts;
  // Stored before the workflow starts (it attaches its callback to it), shown after it started.
  const approval = h.requiresApproval ? await storeApprovalRequest(ctx, h) : undefined;
  try {
    await ctx.startRunWorkflow(
      approval
        ? {
            ...input,
            approval: { requestKey: approval.requestKey, requestedAt: approval.requestedAt, deadline: approval.deadline },
            parentText: approval.parentText,
          }
        : input,
    );
  } catch (error) {
    if (approval) await ctx.approvals.requests.remove(approval.requestKey).catch(() => undefined);
    await living?.close(`⏹️ ${h.shown} (run \`${h.runId}\`) did not start.`).catch(() => undefined);
    throw error;
  }
  if (approval) {
    try {
      await announceRequest(ctx.slack, approval.request, ctx.logger);
    } catch (error) {
      // Withdrawn, so the workflow ends at once instead of waiting for approvals nobody was asked for.
      await abandonRequest(ctx.approvals, ctx.logger, approval.requestKey, ctx.now()).catch(() => undefined);
      throw error;
    }
    await ctx.out.post(
      `🗳️ Approval requested above (until ${new Date(approval.deadline).toISOString().slice(11, 16)} UTC). Once approved, ${h.shown} ${h.how}; its output appears here every ${every}.`,
    );
    return { outcome: 'success', summary: `${escapeText(h.label)}: waiting for approval (run ${h.runId})`, continues: true };
  }
  return { outcome: 'success', summary: `${escapeText(h.label)}: running detached (run ${h.runId})`, continues: true };
}

/**
 * A script or job declared `requiresApproval`: the command's message becomes a request for
 * approval under the rules of its target (`targets.<alias>.deploy`), decided by reaction exactly
 * as deploys are (src/approval/approve.ts); the workflow waits for it before anything starts.
 */
async function storeApprovalRequest(
  ctx: WorkerContext,
  h: HandOff,
): Promise<NonNullable<RunWorkflowInput['approval']> & { parentText: string; request: ApprovalRequest }> {
  const { invocation } = ctx.job;
  const settings = ctx.config.targets[h.target]!.deploy;
  const requestKey = requestKeyFor(invocation.channelId, ctx.out.parentTs);
  const now = ctx.now();
  const headline = `🔐 ${requesterText(invocation)} asks to run ${h.shown} on *${h.target}* · run \`${h.runId}\``;
  const request: ApprovalRequest = {
    pk: requestKey,
    kind: 'run',
    id: h.runId,
    status: 'pending',
    target: h.target,
    teamId: invocation.teamId,
    channelId: invocation.channelId,
    messageTs: ctx.out.parentTs,
    requesterId: invocation.userId,
    ...(invocation.userName ? { requesterName: invocation.userName } : {}),
    commandText: commandText(invocation),
    headline,
    details: h.details,
    doing: `running ${h.shown}`,
    label: `run \`${h.runId}\``,
    rule: ruleFrom(settings, now),
    requestedAt: new Date(now).toISOString(),
  };
  if (!(await ctx.approvals.requests.create(request, settings.expirySeconds + h.timeoutSeconds + 86_400)))
    throw new Error(`a request already exists for message ${requestKey}`);
  return {
    request,
    requestKey,
    requestedAt: now,
    deadline: request.rule.deadline,
    parentText: `${headline}\n${request.details.map((d) => `• ${d}`).join('\n')}\n`,
  };
}
