import { typedCode } from '../slack/format';
import { shortId } from '../platform/short-id';
import { planDeploy, type PlanInput } from '../deploy/plan';
import { suspensionPlanLine } from '../deploy/autoscaling-suspend';
import { abandonRequest, announceRequest } from '../approval/announce';
import { changeDetails, DOING, planPhrase, requestHeadline } from '../deploy/render';
import { definitionDiff, type DefinitionDiff } from '../deploy/diff';
import type { DeployAction, DeployLock, DeployPlan } from '../deploy/types';
import { deployLockKey, trackedKey as requestKey } from '../platform/state-keys';
import { ruleFrom, type ApprovalRequest } from '../approval/types';
import { permalink } from '../slack/client';
import { commandText, requesterText } from '../slack/invocation';
import type { PrivateRefusal, RefusalContext, WorkerHandler } from './verb';
import type { DeployArgs, RollbackArgs } from './verbs/args';
import type { CommandResult, WorkerContext } from '../worker/context';

/** Longest a request plus its rollout and rollback can hold the lock; the workflow releases it sooner. */
const lockSeconds = (expirySeconds: number, timeoutSeconds: number) => expirySeconds + 2 * timeoutSeconds + 3600;
/** A worker lives at most 15 minutes. */
const PLANNING_LOCK_SECONDS = 900;

/** `/ecs deploy <service> <tag|image>` and `/ecs deploy <service> --redeploy`. */
export const deploy: WorkerHandler<DeployArgs> = (args, ctx) => {
  const input: PlanInput = args.action === 'redeploy' ? { action: 'redeploy' } : { action: 'deploy', image: args.image };
  return args.dryRun ? dryRun(ctx, input, args.action === 'deploy' ? args.image : undefined) : requestDeploy(ctx, input);
};

/**
 * `--dry-run`: the plan, the whole change and a verify of the service as the deploy would leave it,
 * with no lock, no request and not one write call to AWS.
 */
async function dryRun(ctx: WorkerContext, input: PlanInput, image: string | undefined): Promise<CommandResult> {
  const target = ctx.target!;
  const { plan, notes, from, to } = await planDeploy(ctx.aws!, target, input);
  if (target.suspendAutoscaling) notes.push(await suspensionPlanLine(ctx.aws!, target.alias, target));
  const diff = definitionDiff(from, to, { showEnvironmentValues: target.deploy.showEnvironmentValues });
  const change = changeDetails(plan, diff);
  const text = [
    `🧪 Dry run, to ${planPhrase(target.alias, plan)}: nothing was changed and nobody was asked to approve.`,
    ...notes,
    ...[...plan.imageNotes, ...change.lines].map((l) => `• ${l}`),
  ].join('\n');
  if (change.attach)
    await ctx.out.postWithFile(text, {
      content: diff.unified,
      filename: `plan-${plan.hash ?? 'dry-run'}.diff`,
      title: 'The whole change (unified diff of the task definitions)',
    });
  else await ctx.out.post(text);
  const { verify } = await import('./verify');
  const checked = await verify({ target: target.alias, ...(image !== undefined ? { image } : {}), putLogs: false }, ctx);
  return { ...checked, summary: `dry run, plan ${plan.hash ?? '?'}: ${checked.summary}` };
}

/**
 * A deploy of a service another deploy holds concerns only its requester: the worker says so
 * privately, before anything is posted in the channel, with a link to the other deploy's thread.
 */
export const anotherDeployUnderWay: PrivateRefusal<unknown> = async (args, ctx) =>
  // A dry run changes nothing: it may look while another deploy is under way.
  ctx.target && !(args as { dryRun?: true }).dryRun ? underWay(ctx, await ctx.state.get<DeployLock>(deployLockKey(ctx.target))) : undefined;

async function underWay(ctx: Pick<RefusalContext, 'job' | 'target' | 'slack'>, found: DeployLock | undefined): Promise<string | undefined> {
  if (!found || !ctx.target) return undefined;
  // Who asked, and where, only when that is this channel: that thread is public here.
  const holder = found.channelId === ctx.job.invocation.channelId ? found : undefined;
  const link = holder ? await permalink(ctx.slack, holder.channelId, holder.threadTs) : undefined;
  const what = holding(found);
  return `${what.holder} of \`${ctx.target.alias}\` is under way${holder ? `: ${typedCode(holder.commandText)} by <@${holder.userId}> since ${holder.startedAt.slice(11, 16)} UTC (${what.noun} \`${holder.deployId}\`)${link ? `, <${link}|see its thread>` : ''}` : ', asked for in another channel'}. One deploy or scale per service at a time: wait for it to end, or reject it there.`;
}

/** What holds a service's lock, in words: a scale, a rollback or a deploy (a lock from before `action` was recorded: a deploy). */
function holding(lock: DeployLock): { holder: string; noun: string } {
  const action = lock.action ?? 'deploy';
  if (action === 'scale') return { holder: 'A scale', noun: 'scale' };
  if (action === 'rollback') return { holder: 'A rollback', noun: 'deploy' };
  return { holder: 'Another deploy', noun: 'deploy' };
}

/** `/ecs rollback <service> [revision]`. */
export const rollback: WorkerHandler<RollbackArgs> = ({ revision }, ctx) => requestDeploy(ctx, { action: 'rollback', ...(revision ? { revision } : {}) });

/** Plans a deploy, redeploy or rollback and asks for its approval (requestChange). */
function requestDeploy(ctx: WorkerContext, input: PlanInput & { action: DeployAction }): Promise<CommandResult> {
  const target = ctx.target!;
  return requestChange(ctx, {
    action: input.action,
    reading: `🔎 Planning: reading \`${target.service}\` in \`${target.cluster}\` (${target.region})${input.action === 'deploy' ? ' and checking the image' : ''}…`,
    plan: async () => {
      const history = input.action === 'rollback' && !input.revision ? await ctx.deployHistory.list(target.alias) : [];
      const planned = await planDeploy(ctx.aws!, target, { ...input, history });
      return {
        ...planned,
        diff: definitionDiff(planned.from, planned.to, { showEnvironmentValues: target.deploy.showEnvironmentValues }),
        ...(target.suspendAutoscaling ? { requestLines: [await suspensionPlanLine(ctx.aws!, target.alias, target)] } : {}),
      };
    },
    approval: true,
  });
}

/** A planned change of the service and what planning found, in words. */
export interface Planned {
  plan: DeployPlan;
  notes: string[];
  /** A change of task definition: what differs (listed in the request, the rest attached). */
  diff?: DefinitionDiff;
  /** Further lines of the request: what else the change does (`suspendAutoscaling`). */
  requestLines?: string[];
}

/**
 * Plans the change, turns the command's message into the approval request and hands the rest to
 * the durable deploy workflow, which waits for the approvals, deploys, watches and rolls back.
 * The service's deploy lock is taken first and held until the workflow ends. Without `approval`
 * (a scale its target lets through), no request is made: the workflow acts at once.
 */
export async function requestChange(
  ctx: WorkerContext,
  change: { action: DeployAction; reading: string; plan: () => Promise<Planned>; approval: boolean },
): Promise<CommandResult> {
  const target = ctx.target!;
  const settings = target.deploy;
  const { invocation } = ctx.job;
  const typed = commandText(invocation);
  const lockKey = deployLockKey(target);
  const deployId = shortId();
  const lock: DeployLock = {
    deployId,
    userId: invocation.userId,
    channelId: invocation.channelId,
    threadTs: ctx.out.parentTs,
    startedAt: new Date(ctx.now()).toISOString(),
    commandText: typed,
    action: change.action,
  };
  // Held for a worker's lifetime while planning (a worker that dies frees it soon), for the whole
  // request, rollout and rollback once the workflow has it.
  if (!(await ctx.state.claim(lockKey, PLANNING_LOCK_SECONDS, lock))) {
    // Taken since the worker's first look (anotherDeployUnderWay): said here, in this thread.
    await ctx.out.post((await underWay(ctx, await ctx.state.get<DeployLock>(lockKey))) ?? `Another deploy or scale of \`${target.alias}\` is under way.`);
    return { outcome: 'failure', summary: `${target.alias}: another deploy is under way` };
  }

  const key = requestKey(invocation.channelId, ctx.out.parentTs);
  // What to undo if a later step fails: nothing stored yet, a stored request, or a started workflow.
  let phase: 'planning' | 'stored' | 'started' = 'planning';
  // One reply for the plan: what is being read, then what was found and that approval is asked.
  const { reading } = change;
  const planMessage = await ctx.out.living(reading);
  let found = '';
  try {
    const { plan, notes, diff, requestLines = [] } = await change.plan();
    const shown = diff ? changeDetails(plan, diff) : { lines: [], attach: false };
    const now = ctx.now();
    const headline = requestHeadline({ requesterId: invocation.userId, requester: requesterText(invocation), target: target.alias, plan, deployId });
    const request: ApprovalRequest = {
      pk: key,
      kind: 'deploy',
      id: deployId,
      status: 'pending',
      target: target.alias,
      teamId: invocation.teamId,
      channelId: invocation.channelId,
      messageTs: ctx.out.parentTs,
      requesterId: invocation.userId,
      ...(invocation.userName ? { requesterName: invocation.userName } : {}),
      commandText: typed,
      headline,
      details: [...plan.imageNotes, ...shown.lines, ...requestLines],
      doing: DOING[plan.action],
      label: `${plan.action === 'scale' ? 'scale' : 'deploy'} \`${deployId}\``,
      plan,
      rule: ruleFrom(settings, now),
      requestedAt: new Date(now).toISOString(),
    };
    found = notes.join('\n');
    planMessage?.update(`${reading}\n${found}`);
    // Tracked before the message says "react here", so no early reaction is dropped by the ingress.
    if (change.approval) {
      if (!(await ctx.approvals.requests.create(request, lockSeconds(settings.expirySeconds, settings.timeoutSeconds) + 86_400)))
        throw new Error(`a deploy request already exists for message ${key}`);
      phase = 'stored';
    }
    // The request is stored before the workflow starts (it attaches its callback to it) and shown
    // after: a deploy that cannot be orchestrated never asks anyone to approve it.
    await ctx.startDeployWorkflow({
      deployId,
      requestKey: key,
      target: target.alias,
      where: { region: target.region, cluster: target.cluster, service: target.service, ...(target.roleArn ? { roleArn: target.roleArn } : {}) },
      teamId: invocation.teamId,
      requesterId: invocation.userId,
      ...(invocation.userName ? { requesterName: invocation.userName } : {}),
      channelId: invocation.channelId,
      parentTs: ctx.out.parentTs,
      headline,
      plan,
      requestedAt: now,
      deadline: request.rule.deadline,
      lockKey,
      audit: ctx.job.audit,
      rollback: settings.rollback,
      timeoutSeconds: settings.timeoutSeconds,
      ...(target.suspendAutoscaling && plan.action !== 'scale' ? { suspendAutoscaling: true as const } : {}),
      ...(change.approval ? {} : { approval: 'not-required' as const }),
      ...(settings.gates.length
        ? {
            gates: {
              stages: settings.gates,
              rule: {
                approvals: settings.approvals,
                approverRole: settings.approverRole,
                approveEmoji: settings.approveEmoji,
                rejectEmoji: settings.rejectEmoji,
                expirySeconds: settings.expirySeconds,
              },
            },
          }
        : {}),
    });
    phase = 'started';
    await ctx.state.refresh(lockKey, lockSeconds(settings.expirySeconds, settings.timeoutSeconds), { deployId });
    if (!change.approval) {
      const going = `▶️ No approval needed for this change of \`${target.alias}\` (its configuration says so). Progress will appear here.`;
      if (planMessage) await planMessage.close([found, going].filter(Boolean).join('\n'));
      else await ctx.out.post([found, going].filter(Boolean).join('\n'));
      return { outcome: 'success', summary: `${plan.action} ${deployId}: started without approval`, continues: true };
    }
    await announceRequest(ctx.slack, request, ctx.logger);
    const asked = `🗳️ Approval requested above: ${request.rule.required} approval${request.rule.required > 1 ? 's' : ''} needed until ${new Date(request.rule.deadline).toISOString().slice(11, 16)} UTC. Progress will appear here.`;
    if (planMessage) await planMessage.close([found, asked].filter(Boolean).join('\n'));
    else await ctx.out.post([found, asked].filter(Boolean).join('\n'));
    if (shown.attach && diff)
      await ctx.out
        .postWithFile('📄 The whole change, as a unified diff of the task definitions:', {
          content: diff.unified,
          filename: `plan-${plan.hash ?? deployId}.diff`,
          title: `Plan ${plan.hash ?? deployId}`,
        })
        .catch((error: unknown) => ctx.logger.warn('plan diff not attached', { error }));
    return { outcome: 'success', summary: `${plan.action === 'scale' ? 'scale' : 'deploy'} ${deployId}: waiting for approval`, continues: true };
  } catch (error) {
    // What was found stays; the error follows below it.
    await planMessage?.close([`${reading.replace(/…$/, '')}: stopped.`, found].filter(Boolean).join('\n')).catch(() => undefined);
    if (phase === 'started' && change.approval) {
      // The workflow owns the request and the lock: withdrawing the request ends it and frees both.
      await abandonRequest(ctx.approvals, ctx.logger, key, ctx.now()).catch(() => undefined);
    } else {
      if (phase === 'stored') await ctx.approvals.requests.remove(key).catch(() => undefined);
      await ctx.state.release(lockKey, { deployId }).catch(() => undefined);
    }
    throw error;
  }
}
