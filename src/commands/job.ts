import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { lookup } from '../config/records';
import type { Job } from '../config/schema';
import { logsLocation } from '../ecs/container-logs';
import { cancelBlocks } from '../exec/run-report';
import { OutputTail } from '../exec/run-view';
import { OutputSpool } from '../exec/spool';
import { readNewLines, type StreamCursor } from '../jobs/follow';
import { planJob } from '../jobs/plan';
import { essentialDefinition, judgeTask, placementFailure, stopTaskReason, validateJobArgs } from '../jobs/task';
import { endedJobView, endText, notPlaced, runningJobView, type JobView } from '../jobs/view';
import { UsageError } from '../platform/errors';
import { shortId } from '../platform/short-id';
import { cancelKey, runKey, runLockKey } from '../platform/state-keys';
import { code, escapeText, formatBytes, formatDuration } from '../slack/format';
import type { JobPlan } from '../workflows/inputs';
import { handOff, handOffInput, pollSecondsOf, REPORT_RESERVE_MS } from './detach';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { RunRecord } from './cancel';
import { alreadyRunning, takesRunLock } from './run-lock';
import type { WorkerHandler } from './verb';
import type { JobArgs } from './verbs/args';

/** How often a running job's task and log stream are read (and a cancel looked for). */
export const JOB_POLL_MS = 1000;
/** A quiet job's living message still shows its elapsed time moving on. */
const TICK_MS = 10_000;

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
  const runId = shortId();
  const started = ctx.now();
  const { invocation } = ctx.job;
  const lock = jobLockKey(name, declared.target);
  // Longer than this Lambda can follow, or waiting for an approval: handed to the run workflow,
  // which then owns the lock and the run record and releases them at the end.
  const detach = declared.requiresApproval || declared.timeoutSeconds * 1000 > ctx.remainingMs() - REPORT_RESERVE_MS;
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
    ...(detach ? { checkedEverySeconds: pollSecondsOf() } : {}),
  };
  // A job that waits for approval holds its lock (and run record) while it waits.
  const approvalSeconds = declared.requiresApproval ? ctx.config.targets[declared.target]!.deploy.expirySeconds : 0;
  const holdSeconds = approvalSeconds + declared.timeoutSeconds + 600;
  const locked = takesRunLock(declared.allowOverlap, invocation);
  if (locked && !(await ctx.state.claim(lock, holdSeconds, record))) {
    return alreadyRunning(ctx, await ctx.state.get<RunRecord>(lock), { shown: `Job \`${escapeText(name)}\``, name, target: declared.target });
  }
  await ctx.state.claim(runKey(runId), holdSeconds, record);
  let handedOff = false;
  try {
    const spec: JobSpec = { name, job: declared, args, runId, started, label: `${name}${args.length ? ` ${args.join(' ')}` : ''}` };
    const plan = await planJob(ctx.aws!, ctx.config.targets[declared.target]!, {
      name,
      job: declared,
      args,
      runId,
      userId: invocation.userId,
      userName: invocation.userName,
    });
    if (!detach) return await runJob(ctx, spec, plan);
    const result = await handOff(ctx, {
      label: spec.label,
      shown: `job ${code(spec.label)}`,
      runId,
      target: declared.target,
      timeoutSeconds: declared.timeoutSeconds,
      requiresApproval: declared.requiresApproval,
      how: 'runs in its own ECS task',
      details: [
        `${declared.description ? `${escapeText(declared.description)}: ` : ''}container ${code(declared.container)} of ${code(taskDefinitionName(plan.request.taskDefinition))} runs ${code(JSON.stringify(plan.request.overrides?.containerOverrides?.[0]?.command ?? []))}, at most ${formatDuration(declared.timeoutSeconds * 1000)}`,
      ],
      input: {
        ...handOffInput(ctx, {
          runId,
          name,
          args,
          target: declared.target,
          lockKey: locked ? lock : undefined,
          startedAt: started,
          timeoutSeconds: declared.timeoutSeconds,
        }),
        job: plan,
      },
    });
    handedOff = result.continues === true;
    return result;
  } finally {
    if (!handedOff) {
      await ctx.state.release(runKey(runId)).catch(() => undefined);
      await ctx.state.release(cancelKey(runId)).catch(() => undefined);
      if (locked) await ctx.state.release(lock, { runId }).catch(() => undefined);
    }
  }
};

/** `arn:…:task-definition/web:42` → `web:42`. */
const taskDefinitionName = (arn: string | undefined): string => (arn ?? '?').slice((arn ?? '?').lastIndexOf('/') + 1);

interface JobSpec {
  name: string;
  job: Job;
  args: string[];
  runId: string;
  started: number;
  label: string;
}

async function runJob(ctx: WorkerContext, spec: JobSpec, plan: JobPlan): Promise<CommandResult> {
  const { aws, out } = ctx;
  const target = ctx.config.targets[spec.job.target]!;
  const ecs = aws!.ecs();
  const { label } = spec;
  const ran = await ecs.send(new RunTaskCommand(plan.request));
  const task = ran.tasks?.[0];
  if (!task) {
    const said = notPlaced(label, spec.runId, placementFailure(ran.failures));
    await out.post(said.text);
    return { outcome: 'failure', summary: said.summary };
  }
  const taskArn = task.taskArn!;
  const taskId = taskArn.slice(taskArn.lastIndexOf('/') + 1);
  const where = logsLocation(plan.container, taskArn, plan.region);
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

  // The job's limit, or (should this worker have less time left than it had when it chose not to hand
  // the job to the workflow) the longest it can follow it.
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
        await ecs.send(new StopTaskCommand({ cluster: target.cluster, task: taskArn, reason: stopTaskReason(spec.runId, stop, limitMs / 1000) }));
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
  const verdict = judgeTask(current, essentialDefinition(plan.essential), spec.job.container, stop?.why === 'cancelled');
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
  // The job's own container's exit code, as a script's: what the signed API and the command line report.
  const own = current.containers?.find((c) => c.name === spec.job.container)?.exitCode;
  return { outcome: verdict.outcome, summary: end.summary, ...(typeof own === 'number' ? { exitCode: own } : {}), cleanup: () => spool.cleanup() };
}
