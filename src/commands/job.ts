import { DescribeServicesCommand, DescribeTaskDefinitionCommand, DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { lookup } from '../config/records';
import type { Job } from '../config/schema';
import { logsLocation, type LogsLocation } from '../ecs/container-logs';
import { cancelBlocks } from '../exec/run-report';
import { OutputTail } from '../exec/run-view';
import { OutputSpool } from '../exec/spool';
import { readNewLines, type StreamCursor } from '../jobs/follow';
import { judgeTask, placementFailure, runTaskInput, validateJobArgs, type JobVerdict } from '../jobs/task';
import { UsageError, UserFacingError } from '../platform/errors';
import { shortId } from '../platform/short-id';
import { cancelKey, runKey, runLockKey } from '../platform/state-keys';
import { permalink } from '../slack/client';
import { breakFences, code, escapeText, formatBytes, formatDuration } from '../slack/format';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { RunRecord } from './cancel';
import type { WorkerHandler } from './verb';
import type { JobArgs } from './verbs/args';

/** How often a running job's task and log stream are read (and a cancel looked for). */
export const JOB_POLL_MS = 1000;
/** A quiet job's living message still shows its elapsed time moving on. */
const TICK_MS = 10_000;
/** Time kept back from the Lambda's deadline to stop the task, report and upload. */
const REPORT_RESERVE_MS = 60_000;
/** A section block's text limit. */
const SECTION_TEXT = 3000;

/** The lock of a job on its target: jobs and scripts share the run lock space, under their own names. */
export const jobLockKey = (name: string, target: string): string => runLockKey(`job:${name}`, target);

/**
 * `/ecs job <name> [args]`: a dedicated ECS task (RunTask) from the job's target service, its
 * command the job's argv. The living message shows it starting, then its log lines as they arrive,
 * then each essential container's exit code and the task's stop code and reason. One run per job
 * and target at a time unless the job allows overlap. The run id is the cancel handle and the
 * task's startedBy; the clientToken derives from it, so a retried step never starts a second task.
 */
export const job: WorkerHandler<JobArgs> = async ({ job: name, args: values }, ctx) => {
  const declared = lookup(ctx.config.jobs, name);
  if (!declared) throw new UsageError(`Job \`${escapeText(name)}\` is no longer declared.`);
  const args = validateJobArgs(name, declared, values);
  if (declared.requiresApproval) {
    throw new UserFacingError(`\`${escapeText(name)}\` needs an approval, and jobs that need one cannot be started from Slack yet.`);
  }
  const runId = shortId();
  const started = ctx.now();
  const { invocation } = ctx.job;
  const lock = jobLockKey(name, declared.target);
  const record: RunRecord = {
    runId,
    script: name,
    kind: 'job',
    target: declared.target,
    teamId: invocation.teamId,
    userId: invocation.userId,
    channelId: invocation.channelId,
    threadTs: ctx.out.parentTs,
    startedAt: new Date(started).toISOString(),
  };
  const holdSeconds = declared.timeoutSeconds + 600;
  if (!declared.allowOverlap && !(await ctx.state.claim(lock, holdSeconds, record))) {
    const found = await ctx.state.get<RunRecord>(lock);
    const holder = found?.channelId === invocation.channelId ? found : undefined;
    const link = holder?.threadTs ? await permalink(ctx.slack, holder.channelId, holder.threadTs) : undefined;
    await ctx.out.post(
      `Job \`${escapeText(name)}\` is already running on \`${declared.target}\`${holder ? `: started by <@${holder.userId}> (run \`${holder.runId}\`)${link ? `, <${link}|see its thread>` : ''}` : ''}. One run at a time; \`/ecs cancel ${holder?.runId ?? '&lt;run-id&gt;'}\` stops it.`,
    );
    return { outcome: 'failure', summary: `${escapeText(name)}: already running` };
  }
  await ctx.state.claim(runKey(runId), holdSeconds, record);
  try {
    return await runJob(ctx, { name, job: declared, args, runId, started });
  } finally {
    await ctx.state.release(runKey(runId)).catch(() => undefined);
    await ctx.state.release(cancelKey(runId)).catch(() => undefined);
    if (!declared.allowOverlap) await ctx.state.release(lock, { runId }).catch(() => undefined);
  }
};

interface JobSpec {
  name: string;
  job: Job;
  args: string[];
  runId: string;
  started: number;
}

async function runJob(ctx: WorkerContext, spec: JobSpec): Promise<CommandResult> {
  const { aws, out } = ctx;
  const target = ctx.config.targets[spec.job.target]!;
  const ecs = aws!.ecs();
  const label = `${spec.name}${spec.args.length ? ` ${spec.args.join(' ')}` : ''}`;
  const { invocation } = ctx.job;

  const { services } = await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }));
  const service = services?.[0];
  if (!service) throw new UserFacingError(`Service \`${escapeText(target.service)}\` was not found in cluster \`${escapeText(target.cluster)}\`.`);
  const input = runTaskInput(
    { name: spec.name, job: spec.job, args: spec.args, runId: spec.runId, cluster: target.cluster, userId: invocation.userId, userName: invocation.userName },
    service,
  );
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: input.taskDefinition }));
  const container = taskDefinition?.containerDefinitions?.find((c) => c.name === spec.job.container);
  if (!taskDefinition || !container) {
    throw new UserFacingError(
      `The task definition ${code(input.taskDefinition ?? '?')} has no container ${code(spec.job.container)} (jobs.${escapeText(spec.name)}.container).`,
    );
  }
  const ran = await ecs.send(new RunTaskCommand({ ...input, taskDefinition: taskDefinition.taskDefinitionArn }));
  const task = ran.tasks?.[0];
  if (!task) {
    const why = placementFailure(ran.failures);
    await out.post(`❌ ${code(label)} (run \`${spec.runId}\`) could not start: ECS placed no task: ${escapeText(why)}.`);
    return { outcome: 'failure', summary: `${escapeText(label)}: not placed (${escapeText(why)})` };
  }
  const taskArn = task.taskArn!;
  const taskId = taskArn.slice(taskArn.lastIndexOf('/') + 1);
  const where = logsLocation(container, taskArn, target.region);
  const spool = await OutputSpool.create();
  const tail = new OutputTail();
  const cursor: StreamCursor = {};
  let current: Task = task;
  const statuses: string[] = [task.lastStatus ?? 'PROVISIONING'];

  const view = (): JobView => ({ label, runId: spec.runId, taskId, statuses, elapsedMs: ctx.now() - spec.started, bytes: spool.bytes, tail, where });
  const first = runningJobView(view());
  const living = await out.living(first, cancelBlocks(first, spec.runId)).catch((error: unknown) => {
    ctx.logger.warn('living message not posted', { error });
    return undefined;
  });

  // The job's limit, or the longest this worker can follow it (the durable workflow does not follow jobs yet).
  const followable = Math.max(10_000, ctx.remainingMs() - REPORT_RESERVE_MS);
  const limitMs = Math.min(spec.job.timeoutSeconds * 1000, followable);
  const deadline = spec.started + limitMs;
  let stop: { why: 'cancelled' | 'timeout'; by?: string } | undefined;
  const readLogs = async (): Promise<boolean> => {
    if (where.kind !== 'awslogs') return false;
    const lines = await readNewLines(aws!, where, cursor);
    if (!lines.length) return false;
    spool.write(lines);
    tail.add(lines);
    return true;
  };
  // Edited when something new shows (a status, log lines), else every TICK_MS so the time moves on.
  let shownAt = ctx.now();
  while (current.lastStatus !== 'STOPPED') {
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    if (!stop) {
      const cancel = await ctx.state.get<{ by?: string }>(cancelKey(spec.runId));
      const timedOut = ctx.now() >= deadline;
      if (cancel || timedOut) {
        stop = cancel ? { why: 'cancelled', ...(cancel.by ? { by: cancel.by } : {}) } : { why: 'timeout' };
        const reason = cancel
          ? `Cancelled in Slack by ${cancel.by ?? 'someone'} (ecs-chatops run ${spec.runId})`
          : `Stopped by ecs-chatops: run ${spec.runId} reached its time limit of ${Math.round(limitMs / 1000)} s`;
        await ecs.send(new StopTaskCommand({ cluster: target.cluster, task: taskArn, reason }));
      }
    }
    const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks: [taskArn] }));
    if (tasks?.[0]) current = tasks[0];
    const moved = current.lastStatus !== undefined && statuses.at(-1) !== current.lastStatus;
    if (moved) statuses.push(current.lastStatus!);
    const printed = await readLogs();
    if (!moved && !printed && ctx.now() - shownAt < TICK_MS) continue;
    shownAt = ctx.now();
    const text = runningJobView(view());
    living?.update(text, cancelBlocks(text, spec.runId));
  }
  // What the container printed last may be ingested after it stopped.
  await readLogs();
  const logFile = await spool.close();
  const took = formatDuration(ctx.now() - spec.started);
  const verdict = judgeTask(current, taskDefinition, spec.job.container, stop?.why === 'cancelled');
  const end = endText(label, spec.runId, verdict, took, stop && { ...stop, limit: formatDuration(limitMs), lambda: limitMs < spec.job.timeoutSeconds * 1000 });
  await living?.close(endedJobView(view(), end.ended));
  const complete = living !== undefined && !tail.leftOut && spool.lines <= tail.lines.length;
  const text = `${end.text}${where.kind === 'elsewhere' ? `\n_${escapeText(where.explanation)}_` : ''}`;
  if (complete || spool.bytes === 0) await out.post(text);
  else
    await out.postWithFile(text, {
      path: logFile,
      filename: `job-${spec.runId}.txt`,
      title: `Full log of ${label} (${spool.lines} lines, ${formatBytes(spool.bytes)})`,
    });
  return { outcome: verdict.outcome, summary: end.summary, cleanup: () => spool.cleanup() };
}

interface JobView {
  label: string;
  runId: string;
  taskId: string;
  statuses: string[];
  elapsedMs: number;
  bytes: number;
  tail: OutputTail;
  where: LogsLocation;
}

const header = (v: JobView) =>
  `${code(v.label)} (run \`${v.runId}\`) in task ${code(v.taskId.slice(0, 12))} · ${v.statuses.join(' → ')} · ${formatDuration(v.elapsedMs)} · ${formatBytes(v.bytes)} of log`;

/** The living message while the task lives: its statuses so far, then its latest log lines. */
export function runningJobView(v: JobView): string {
  const top = `▶️ Job ${header(v)}`;
  const body = v.where.kind === 'awslogs' ? v.tail.block('', SECTION_TEXT - top.length - 1) : `_${breakFences(escapeText(v.where.explanation))}_`;
  return `${top}\n${body}`;
}

function endedJobView(v: JobView, ended: string): string {
  const top = `⏹️ Job ${header(v)} · ${ended}`;
  const more = v.tail.leftOut ? '\n_Latest lines above; the full log is attached below._' : '';
  return `${top}\n${v.tail.block('', SECTION_TEXT - top.length - more.length - 1)}${more}`;
}

/** The end reply: the verdict, each essential container's exit code, the stop code and reason (AWS text escaped). */
export function endText(
  label: string,
  runId: string,
  verdict: JobVerdict,
  took: string,
  stop?: { why: 'cancelled' | 'timeout'; by?: string; limit?: string; lambda?: boolean },
) {
  const exits = verdict.exitCodes
    .filter((e) => e.essential)
    .map((e) => `${code(e.name)}: ${e.exitCode === undefined ? 'no exit code' : `exit code ${e.exitCode}`}${e.reason ? ` (${escapeText(e.reason)})` : ''}`);
  const stopLine = verdict.stopCode ? `Stop code ${code(verdict.stopCode)}${verdict.reason ? `: ${escapeText(verdict.reason)}` : ''}` : '';
  const details = [...exits.map((e) => `• ${e}`), ...(stopLine ? [`• ${stopLine}`] : [])].join('\n');
  const head =
    verdict.outcome === 'success'
      ? `✅ ${code(label)} (run \`${runId}\`) succeeded after ${took}.`
      : verdict.outcome === 'cancelled'
        ? `🚫 ${code(label)} (run \`${runId}\`) was cancelled${stop?.by ? ` by <@${stop.by}>` : ''} after ${took}.`
        : stop?.why === 'timeout'
          ? `⏱️ ${code(label)} (run \`${runId}\`) was stopped after ${took}: a failure. ${stop.lambda ? `It reached the longest one worker can follow a job (${stop.limit}); jobs longer than that are not followed by the durable workflow yet.` : `It reached its time limit (${stop.limit}).`}`
          : `❌ ${code(label)} (run \`${runId}\`) failed after ${took}: ${escapeText(verdict.why)}.`;
  const own = verdict.exitCodes[0]?.exitCode;
  return {
    text: `${head}\n${details}`,
    ended: verdict.outcome === 'success' ? 'exit code 0' : verdict.outcome === 'cancelled' ? 'cancelled' : own !== undefined ? `exit code ${own}` : 'failed',
    summary:
      verdict.outcome === 'success'
        ? `${escapeText(label)}: exit 0 in ${took}`
        : verdict.outcome === 'cancelled'
          ? `${escapeText(label)}: cancelled after ${took}`
          : `${escapeText(label)}: failed (${escapeText(verdict.why)})`,
  };
}
