import { shortId } from '../platform/short-id';
import { runWorkflowPollSeconds } from '../config/env';
import { lookup } from '../config/records';
import type { Script } from '../config/schema';
import { buildExecCommand, newNonce } from '../exec/command';
import { connectExecSession, execPlace, startExecCommand } from '../exec/exec-once';
import { OutputCleaner } from '../exec/output';
import type { ExecSessionResult } from '../exec/session';
import { cancelledReport, endReport, outputSize, timedOutReport } from '../exec/run-report';
import { endedView, OutputTail, runningView, type RunViewState } from '../exec/run-view';
import { OutputSpool } from '../exec/spool';
import { code, escapeText, formatBytes, formatDuration, typedCode } from '../slack/format';
import type { RunRecord } from './cancel';
import { pickExecTask } from '../exec/target';
import { validateScriptArgs } from './script-args';
import { abandonRequest, announceRequest } from '../approval/announce';
import { ruleFrom, type ApprovalRequest } from '../approval/types';
import { UsageError, UserFacingError } from '../platform/errors';
import { permalink } from '../slack/client';
import { commandText } from '../slack/invocation';
import type { RunWorkflowInput } from '../workflows/inputs';
import type { WorkerHandler } from './verb';
import type { RunArgs } from './verbs/args';
import type { CommandResult, WorkerContext } from '../worker/context';
import { cancelKey, runKey, runLockKey, trackedKey as requestKeyFor } from '../platform/state-keys';

/** How often a running script looks for a cancel: a cancel stops it within about 2 s. */
const CANCEL_POLL_MS = 500;
/** After Ctrl-C, how long the script gets to stop before its session is ended. */
const INTERRUPT_GRACE_MS = 1000;
/** A quiet script's living message still shows its elapsed time moving on. */
const TICK_MS = 10_000;
/** Time kept back from the Lambda's deadline to report and upload. */
const REPORT_RESERVE_MS = 60_000;
/**
 * Runs allowed longer than this are always detached: an ECS Exec session ends after 20 idle
 * minutes (a quiet script would lose its session), and a Lambda lives at most 15.
 */
const DETACH_ABOVE_SECONDS = 12 * 60;
/** Time between follows of a detached run (RUN_WORKFLOW_POLL_SECONDS overrides it). */
const DEFAULT_POLL_SECONDS = 30;

/**
 * `/ecs run <script> [args]`: one declared script, in the manager container, through ECS Exec,
 * its output live in the thread and its exit code at the end. One run per script and target at
 * a time (a DynamoDB lock) unless the script allows overlap.
 */
export const run: WorkerHandler<RunArgs> = async ({ script: name, args: values }, ctx) => {
  const script = lookup(ctx.config.scripts, name);
  if (!script) throw new UsageError(`Script \`${escapeText(name)}\` is no longer declared.`);
  // Checked again against the declaration of the moment: these words reach the container.
  const args = validateScriptArgs(name, script, values);
  const label = `${name}${args.length ? ` ${args.join(' ')}` : ''}`;
  const runId = shortId();
  const started = ctx.now();
  const { invocation } = ctx.job;
  const lock = runLockKey(name, script.target);
  // Longer than ECS Exec's idle limit, or than this Lambda can wait, or waiting for an approval:
  // detached, followed by the durable workflow, which then owns the lock and the run record and
  // releases them at the end.
  const detach =
    script.requiresApproval || script.timeoutSeconds > DETACH_ABOVE_SECONDS || script.timeoutSeconds * 1000 > ctx.remainingMs() - REPORT_RESERVE_MS;
  const record: RunRecord = {
    runId,
    script: name,
    target: script.target,
    teamId: invocation.teamId,
    userId: invocation.userId,
    channelId: invocation.channelId,
    threadTs: ctx.out.parentTs,
    startedAt: new Date(started).toISOString(),
    // A cancel tells when it will be seen: at once here, at the workflow's next poll when detached.
    ...(detach ? { checkedEverySeconds: pollSecondsOf() } : {}),
  };
  // A run that waits for approval holds its lock (and run record) while it waits.
  const approvalSeconds = script.requiresApproval ? ctx.config.targets[script.target]!.deploy.expirySeconds : 0;
  const holdSeconds = approvalSeconds + script.timeoutSeconds + 600;
  if (!script.allowOverlap && !(await ctx.state.claim(lock, holdSeconds, record))) {
    const found = await ctx.state.get<RunRecord>(lock);
    // Who holds it, and where, only when that is this channel: this thread is public here.
    const holder = found?.channelId === invocation.channelId ? found : undefined;
    const link = holder?.threadTs ? await permalink(ctx.slack, holder.channelId, holder.threadTs) : undefined;
    await ctx.out.post(
      `\`${name}\` is already running on \`${script.target}\`${holder ? `: started by <@${holder.userId}> at ${holder.startedAt.slice(11, 19)} UTC (run \`${holder.runId}\`)${link ? `, <${link}|see its thread>` : ''}` : ''}. One run at a time; \`/ecs cancel ${holder?.runId ?? '&lt;run-id&gt;'}\` stops it${found && !holder ? ' (it was started in another channel)' : ''}.`,
    );
    return { outcome: 'failure', summary: `${escapeText(name)}: already running` };
  }
  await ctx.state.claim(runKey(runId), holdSeconds, record);
  let handedOff = false;
  try {
    if (detach) {
      const result = await runDetached(ctx, { name, script, args, label, runId, started }, script.allowOverlap ? undefined : lock);
      handedOff = result.continues === true;
      return result;
    }
    return await runInline(ctx, { name, script, args, label, runId, started });
  } finally {
    if (!handedOff) {
      await ctx.state.release(runKey(runId)).catch(() => undefined);
      if (!script.allowOverlap) await ctx.state.release(lock, { runId }).catch(() => undefined);
    }
  }
};

/** Time between the run workflow's follows of a detached run. */
const pollSecondsOf = () => Math.max(1, runWorkflowPollSeconds() || DEFAULT_POLL_SECONDS);

/**
 * Hands the run to the durable workflow (src/handlers/run-workflow.ts) through the worker's
 * `startRunWorkflow` (src/workflows/start.ts: idempotent by the run id), asking for approval
 * first when the script needs it.
 */
async function runDetached(ctx: WorkerContext, spec: RunSpec, lock: string | undefined): Promise<CommandResult> {
  const limit = formatDuration(spec.script.timeoutSeconds * 1000);
  const { invocation } = ctx.job;
  const pollSeconds = pollSecondsOf();
  const input: RunWorkflowInput = {
    runId: spec.runId,
    script: spec.name,
    path: spec.script.path,
    args: spec.args,
    target: spec.script.target,
    teamId: invocation.teamId,
    userId: invocation.userId,
    ...(invocation.userName ? { userName: invocation.userName } : {}),
    channelId: invocation.channelId,
    parentTs: ctx.out.parentTs,
    // The worker's parent text, so the workflow keeps it when it marks the outcome.
    parentText: `<@${invocation.userId}> ran ${typedCode(commandText(invocation))}`,
    audit: ctx.job.audit,
    ...(lock ? { lockKey: lock } : {}),
    startedAt: spec.started,
    timeoutSeconds: spec.script.timeoutSeconds,
    pollSeconds,
  };
  // Without an approval to wait for, the run's living message is posted now and the workflow edits it.
  const notice = `⏳ ${code(spec.label)} (run \`${spec.runId}\`) may take up to ${limit}, longer than one Lambda: it runs detached in the container, followed by a durable workflow. This message shows its latest output every ${formatDuration(pollSeconds * 1000)}; \`/ecs cancel ${spec.runId}\` stops it.`;
  const living = spec.script.requiresApproval ? undefined : await ctx.out.living(notice);
  if (living?.ts) input.progressTs = living.ts;
  // Stored before the workflow starts (it attaches its callback to it), shown after it started.
  const approval = spec.script.requiresApproval ? await storeApprovalRequest(ctx, spec) : undefined;
  try {
    const payload = approval
      ? {
          ...input,
          approval: { requestKey: approval.requestKey, requestedAt: approval.requestedAt, deadline: approval.deadline },
          parentText: approval.parentText,
        }
      : input;
    await ctx.startRunWorkflow(payload);
  } catch (error) {
    if (approval) await ctx.approvals.requests.remove(approval.requestKey).catch(() => undefined);
    await living?.close(`⏹️ ${code(spec.label)} (run \`${spec.runId}\`) did not start.`).catch(() => undefined);
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
      `🗳️ Approval requested above (until ${new Date(approval.deadline).toISOString().slice(11, 16)} UTC). Once approved, ${code(spec.label)} runs detached in the container; its output appears here every ${formatDuration(pollSeconds * 1000)}.`,
    );
    return { outcome: 'success', summary: `${escapeText(spec.label)}: waiting for approval (run ${spec.runId})`, continues: true };
  }
  return { outcome: 'success', summary: `${escapeText(spec.label)}: running detached (run ${spec.runId})`, continues: true };
}

/**
 * A script declared `requiresApproval`: the command's message becomes a request for approval
 * under the rules of the script's target (`targets.<alias>.deploy`), decided by reaction exactly
 * as deploys are (src/approval/approve.ts); the workflow waits for it before it starts the script.
 */
async function storeApprovalRequest(
  ctx: WorkerContext,
  spec: RunSpec,
): Promise<NonNullable<RunWorkflowInput['approval']> & { parentText: string; request: ApprovalRequest }> {
  const { invocation } = ctx.job;
  const settings = ctx.config.targets[spec.script.target]!.deploy;
  const requestKey = requestKeyFor(invocation.channelId, ctx.out.parentTs);
  const now = ctx.now();
  const headline = `🔐 <@${invocation.userId}> asks to run ${code(spec.label)} on *${spec.script.target}* · run \`${spec.runId}\``;
  const request: ApprovalRequest = {
    pk: requestKey,
    kind: 'run',
    id: spec.runId,
    status: 'pending',
    target: spec.script.target,
    teamId: invocation.teamId,
    channelId: invocation.channelId,
    messageTs: ctx.out.parentTs,
    requesterId: invocation.userId,
    ...(invocation.userName ? { requesterName: invocation.userName } : {}),
    commandText: commandText(invocation),
    headline,
    details: [
      `\`${spec.script.path}\`${spec.script.description ? ` (${escapeText(spec.script.description)})` : ''} with ${spec.args.length ? spec.args.map(code).join(' ') : 'no arguments'}, at most ${formatDuration(spec.script.timeoutSeconds * 1000)}`,
    ],
    doing: `running ${code(spec.label)}`,
    label: `run \`${spec.runId}\``,
    rule: ruleFrom(settings, now),
    requestedAt: new Date(now).toISOString(),
  };
  if (!(await ctx.approvals.requests.create(request, settings.expirySeconds + spec.script.timeoutSeconds + 86_400)))
    throw new Error(`a request already exists for message ${requestKey}`);
  return {
    request,
    requestKey,
    requestedAt: now,
    deadline: request.rule.deadline,
    parentText: `${headline}\n${request.details.map((d) => `• ${d}`).join('\n')}\n`,
  };
}

interface RunSpec {
  name: string;
  script: Script;
  args: string[];
  label: string;
  runId: string;
  started: number;
}

async function runInline(ctx: WorkerContext, spec: RunSpec): Promise<CommandResult> {
  const { out, aws } = ctx;
  const alias = spec.script.target;
  const target = ctx.config.targets[alias]!;
  const where = await pickExecTask(aws!, alias, target);
  const place = execPlace(where);
  const nonce = newNonce();
  const command = buildExecCommand({ path: spec.script.path, args: spec.args, nonce });
  const started = await startExecCommand(aws!, alias, place, command);

  const cleaner = new OutputCleaner({ nonce });
  const spool = await OutputSpool.create();
  const tail = new OutputTail();
  const view = (): RunViewState => ({
    label: spec.label,
    runId: spec.runId,
    place: where,
    elapsedMs: ctx.now() - spec.started,
    bytes: spool.bytes,
    tail,
    partial: cleaner.partial,
    note: `it stops after ${formatDuration(spec.script.timeoutSeconds * 1000)}`,
  });
  const show = () => {
    const v = runningView(view());
    living?.update(v.text, v.blocks);
  };
  const first = runningView(view());
  // One message for the whole run, edited in place; the run goes on if Slack cannot take it.
  const living = await out.living(first.text, first.blocks).catch((error: unknown) => {
    // The script has started: it runs and reports without its living message, output in the file.
    ctx.logger.warn('living message not posted', { error });
    return undefined;
  });

  let session: Awaited<ReturnType<typeof connectExecSession>>;
  try {
    session = await connectExecSession(aws!, place, started, ctx.logger);
  } catch (error) {
    // The error is the worker's to report; nothing of the run is left behind, no button either.
    await living?.close(endedView(view(), 'could not connect')).catch(() => undefined);
    await spool.cleanup().catch(() => undefined);
    throw error;
  }

  let stopReason: 'cancelled' | 'timeout' | undefined;
  let cancelledBy: string | undefined;
  let sessionEnded = false;
  session.on('output', (chunk) => {
    const lines = cleaner.push(chunk);
    spool.write(lines);
    // Once a stop is asked for, output goes to the file only (after the marker that says so).
    if (stopReason) return;
    tail.add(lines);
    show();
  });
  const stop = (why: 'cancelled' | 'timeout') => {
    if (stopReason) return;
    stopReason = why;
    spool.write([
      `--- ${why === 'cancelled' ? `cancel asked${cancelledBy ? ` by ${cancelledBy}` : ''}` : 'time limit reached'} after ${formatDuration(ctx.now() - spec.started)}: output below came after it ---`,
    ]);
    session.interrupt();
    setTimeout(() => {
      sessionEnded = true;
      void session.terminate();
    }, INTERRUPT_GRACE_MS).unref();
  };
  const deadline = Math.min(spec.script.timeoutSeconds * 1000, Math.max(10_000, ctx.remainingMs() - REPORT_RESERVE_MS));
  const timer = setTimeout(() => stop('timeout'), deadline);
  const poll = setInterval(() => {
    void ctx.state.get<{ by?: string }>(cancelKey(spec.runId)).then((c) => {
      if (!c) return;
      cancelledBy = c.by;
      stop('cancelled');
    });
  }, CANCEL_POLL_MS);
  // The elapsed time moves on while a script is quiet.
  const tick = setInterval(() => stopReason || show(), TICK_MS);

  let result: ExecSessionResult;
  try {
    result = await session.closed;
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
    clearInterval(tick);
  }
  const rest = cleaner.end();
  spool.write(rest);
  if (!stopReason) tail.add(rest);
  const logFile = await spool.close();
  const endedAt = ctx.now();
  const took = formatDuration(endedAt - spec.started);
  const size = outputSize(spool);
  const cleanup = () => spool.cleanup();
  const exit = cleaner.exitCode;
  await ctx.state.release(cancelKey(spec.runId)).catch(() => undefined);

  const why =
    exit !== undefined
      ? undefined
      : result.reason === 'socket_closed'
        ? 'the connection to the container was lost before the script finished'
        : result.reason === 'error'
          ? `the session failed (${escapeText(result.error?.message ?? 'unknown error')})`
          : 'the session ended without the script reporting its exit status';
  const end =
    stopReason === 'cancelled'
      ? cancelledReport(spec.label, { by: cancelledBy, took, exit, interrupted: !sessionEnded })
      : stopReason === 'timeout'
        ? timedOutReport(spec.label, { took, limit: formatDuration(deadline), interrupted: !sessionEnded })
        : endReport(spec.label, exit, took, size, why);
  await living?.close(endedView({ ...view(), elapsedMs: endedAt - spec.started }, end.ended));
  // The file whenever the living message could not show all of it (or output came after a stop).
  const complete = living !== undefined && !tail.leftOut && spool.lines <= tail.lines.length + (stopReason ? 1 : 0);
  if (complete || spool.bytes === 0) await out.post(end.text);
  else
    await out.postWithFile(end.text, {
      path: logFile,
      filename: `output-${spec.runId}.txt`,
      title: `Full output of ${spec.label} (${spool.lines} lines, ${formatBytes(spool.bytes)})`,
    });
  return { outcome: end.outcome, summary: end.summary, cleanup };
}
