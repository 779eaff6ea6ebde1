/**
 * The durable workflow that follows a job's task (`/ecs job`, src/commands/job.ts) when it may
 * outlive one Lambda or waits for an approval first. The worker planned the task (RunTask's request
 * with the task definition revision pinned, src/workflows/inputs.ts JobPlan); this workflow waits
 * for the approval when one is needed, starts the task (RunTask's clientToken derives from the run
 * id: a retried step gets the same task, never a second one), then polls between durable waits:
 * the task's status, its log stream read on from a cursor kept in the checkpoint (nothing lost or
 * repeated), a cancel or the time limit (StopTask with the reason). At the end: each essential
 * container's exit code and the stop code, the whole log attached when the living message could
 * not show all of it (read again from the stream, not kept in checkpoints).
 *
 * Replay rules as in src/workflows/run.ts: the outside world only inside steps.
 */
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import { logsLocation, type LogsLocation } from '../ecs/container-logs';
import { cancelBlocks } from '../exec/run-report';
import { OutputTail } from '../exec/run-view';
import { OutputSpool } from '../exec/spool';
import { readNewLines, type StreamCursor } from '../jobs/follow';
import { essentialDefinition, judgeTask, placementFailure, stopTaskReason } from '../jobs/task';
import { endedJobView, endText, notPlaced, runningJobView, type JobStop, type JobView } from '../jobs/view';
import { UserFacingError } from '../platform/errors';
import { code, escapeText, formatBytes, formatDuration } from '../slack/format';
import type { Outcome } from '../slack/thread-output';
import type { JobPlan, RunWorkflowInput } from './inputs';
import { maxPolls, readCancel, RETRY, runWorkflowKit, type RunWorkflowDeps, type RunWorkflowResult } from './run-kit';

/** How the run ended, as the thread and the audit say it. */
interface End {
  text: string;
  outcome: Outcome;
  summary: string;
  ended: string;
}

/** Checkpointed result of `start`. */
type Started = { ok: true; taskArn: string; where: LogsLocation; status: string; livingTs?: string } | { ok: false; end: End };

/** What a stopped task says, as much of it as judging it needs (checkpointed: small). */
type StoppedTask = Pick<Task, 'lastStatus' | 'stopCode' | 'stoppedReason'> & { containers: Array<{ name?: string; exitCode?: number; reason?: string }> };

/** Checkpointed result of one `follow-N` step: everything the next one and the end need. */
interface Followed {
  cursor: StreamCursor;
  statuses: string[];
  tail: string[];
  leftOut: boolean;
  lines: number;
  bytes: number;
  stop?: JobStop;
  /** The poll that asked ECS to stop the task. */
  stopPoll?: number;
  stopped?: StoppedTask;
}

/** Once StopTask is sent, the task is looked at this often (at most) until it has stopped. */
const STOPPING_POLL_SECONDS = 5;
/** Polls after StopTask before the workflow stops waiting for the task to reach STOPPED (its containers get stopTimeout, at most 120 s, then deprovisioning). */
const POLLS_AFTER_STOP = 60;
/** Reads of the whole stream for the attached log: each reads up to 20 pages (200,000 events). */
const MAX_FULL_READS = 50;

const compact = (task: Task): StoppedTask => ({
  lastStatus: task.lastStatus,
  ...(task.stopCode ? { stopCode: task.stopCode } : {}),
  ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
  containers: (task.containers ?? []).map((c) => ({
    ...(c.name ? { name: c.name } : {}),
    ...(typeof c.exitCode === 'number' ? { exitCode: c.exitCode } : {}),
    ...(c.reason ? { reason: c.reason } : {}),
  })),
});

/** An AWS error that retrying will not mend (the request itself is refused): reported, not retried. */
const isClientFault = (error: unknown): boolean => (error as { $fault?: string }).$fault === 'client' && (error as Error).name !== 'ThrottlingException';

export function createJobWorkflow(deps: RunWorkflowDeps) {
  return async function jobWorkflow(input: RunWorkflowInput, context: DurableContext): Promise<RunWorkflowResult> {
    const plan: JobPlan = input.job!;
    const { now, logger, withAws, thread, once, approval, waitForPoll, settle } = runWorkflowKit(deps, input, context);
    const label = `${input.script}${input.args.length ? ` ${input.args.join(' ')}` : ''}`;
    const cluster = plan.request.cluster;
    const every = formatDuration(input.pollSeconds * 1000);
    const limitText = formatDuration(input.timeoutSeconds * 1000);
    const view = (s: Followed, taskArn: string, where: LogsLocation): JobView => ({
      label,
      runId: input.runId,
      taskId: taskArn.slice(taskArn.lastIndexOf('/') + 1),
      statuses: s.statuses,
      elapsedMs: now() - input.startedAt,
      bytes: s.bytes,
      tail: new OutputTail(s.tail, s.leftOut),
      where,
      note: `new lines every ${every}, it stops after ${limitText}`,
    });
    /** Shows the living message (posted by the worker, or once here): an edit, safe to repeat. */
    const showLiving = async (text: string, ts: string | undefined) => {
      const out = await thread();
      if (ts) {
        (await out.living(text, cancelBlocks(text, input.runId), ts))?.update(text, cancelBlocks(text, input.runId));
        await out.flush();
        return ts;
      }
      let posted: string | undefined;
      await once('start', async () => void (posted = (await out.living(text, cancelBlocks(text, input.runId)))?.ts));
      return posted;
    };

    // ---- approval (jobs declared requiresApproval) -------------------------------------------
    const { decision, refusal } = await approval();

    // ---- start: RunTask as planned (and approved) ---------------------------------------------
    const started: Started = refusal
      ? { ok: false, end: { text: `🚫 Not run: ${refusal}. Nothing was started.`, outcome: 'cancelled', summary: `not run: ${refusal}`, ended: 'not run' } }
      : await context.step(
          'start',
          async (): Promise<Started> => {
            const failed = (text: string, outcome: Outcome = 'failure'): Started => ({
              ok: false,
              end: { text, outcome, summary: text.replace(/^\S+ /, '').split('\n')[0]!, ended: 'not started' },
            });
            if (!deps.config().jobs[input.script]) return failed(`❌ Job ${code(input.script)} is no longer in the configuration. Nothing was started.`);
            // Cancelled while it waited for its approval: it never starts.
            const cancelled = await readCancel(deps, input.runId);
            if (cancelled) return failed(`🚫 Cancelled${cancelled.by ? ` by <@${cancelled.by}>` : ''} before it started. Nothing was run.`, 'cancelled');
            try {
              return await withAws(async (aws) => {
                const ran = await aws.ecs().send(new RunTaskCommand(plan.request));
                const task = ran.tasks?.[0];
                if (!task?.taskArn) {
                  const said = notPlaced(label, input.runId, placementFailure(ran.failures));
                  return { ok: false, end: { text: said.text, outcome: 'failure', summary: said.summary, ended: 'not placed' } };
                }
                const where = logsLocation(plan.container, task.taskArn, plan.region);
                const first: Followed = { cursor: {}, statuses: [task.lastStatus ?? 'PROVISIONING'], tail: [], leftOut: false, lines: 0, bytes: 0 };
                const livingTs = await showLiving(runningJobView(view(first, task.taskArn, where)), input.progressTs);
                return { ok: true, taskArn: task.taskArn, where, status: first.statuses[0]!, ...(livingTs ? { livingTs } : {}) };
              });
            } catch (error) {
              if (error instanceof UserFacingError) return failed(`❌ ${error.userMessage}`);
              if (isClientFault(error))
                return failed(`❌ ECS refused to start ${code(label)}: ${escapeText(`${(error as Error).name}: ${(error as Error).message}`)}`);
              throw error;
            }
          },
          // RunTask's clientToken makes a retried start return the same task.
          { retryStrategy: RETRY },
        );

    // ---- follow until the task stops (after a cancel or the time limit: StopTask first) -------
    let state: Followed = { cursor: {}, statuses: started.ok ? [started.status] : [], tail: [], leftOut: false, lines: 0, bytes: 0 };
    let polls = 0;
    const limit = maxPolls(input);
    while (started.ok && !state.stopped) {
      await waitForPoll(polls + 1, state.stop ? Math.min(input.pollSeconds, STOPPING_POLL_SECONDS) : input.pollSeconds);
      polls++;
      const poll = polls;
      const before = state;
      state = await context.step(
        `follow-${poll}`,
        async (): Promise<Followed> =>
          withAws(async (aws) => {
            const ecs = aws.ecs();
            let { stop, stopPoll } = before;
            if (!stop) {
              const cancel = await readCancel(deps, input.runId);
              stop = cancel ? { why: 'cancelled', ...(cancel.by ? { by: cancel.by } : {}) } : poll >= limit ? { why: 'timeout', limit: limitText } : undefined;
              if (stop) {
                stopPoll = poll;
                await ecs.send(new StopTaskCommand({ cluster, task: started.taskArn, reason: stopTaskReason(input.runId, stop, input.timeoutSeconds) }));
              }
            }
            const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [started.taskArn] }));
            const task = tasks?.[0];
            const statuses = [...before.statuses];
            if (task?.lastStatus && statuses.at(-1) !== task.lastStatus) statuses.push(task.lastStatus);
            const cursor = { ...before.cursor };
            const lines = started.where.kind === 'awslogs' ? await readNewLines(aws, started.where, cursor) : [];
            const tail = new OutputTail(before.tail, before.leftOut);
            tail.add(lines);
            // ECS forgets a stopped task after about an hour; one that never stops after StopTask is reported as it was.
            const gone: StoppedTask | undefined = !task
              ? { lastStatus: 'STOPPED', stoppedReason: 'ECS no longer reports the task', containers: [] }
              : stopPoll !== undefined && poll >= stopPoll + POLLS_AFTER_STOP && task.lastStatus !== 'STOPPED'
                ? { ...compact(task), stoppedReason: `still ${task.lastStatus} ${POLLS_AFTER_STOP} polls after StopTask` }
                : undefined;
            const next: Followed = {
              cursor,
              statuses,
              tail: [...tail.lines],
              leftOut: tail.leftOut,
              lines: before.lines + lines.length,
              bytes: before.bytes + lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0),
              ...(stop ? { stop } : {}),
              ...(stopPoll !== undefined ? { stopPoll } : {}),
              ...(task?.lastStatus === 'STOPPED' ? { stopped: compact(task) } : gone ? { stopped: gone } : {}),
            };
            if (!next.stopped && started.livingTs) await showLiving(runningJobView(view(next, started.taskArn, started.where)), started.livingTs);
            return next;
          }),
        { retryStrategy: RETRY },
      );
    }

    // ---- finish: the end in the thread, the full log, the lock and the audit ------------------
    return context.step(
      'finish',
      async (): Promise<RunWorkflowResult> => {
        const took = formatDuration(now() - input.startedAt);
        let end: End;
        if (!started.ok) end = started.end;
        else {
          const verdict = judgeTask(state.stopped as Task, essentialDefinition(plan.essential), plan.container.name!, state.stop?.why === 'cancelled');
          end = { ...endText(label, input.runId, verdict, took, state.stop), outcome: verdict.outcome };
          if (started.where.kind === 'elsewhere') end.text += `\n_${escapeText(started.where.explanation)}_`;
        }
        // The whole log, only when the living message could not show all of it (or is missing): read again from its stream.
        const where = started.ok ? started.where : undefined;
        let spool: OutputSpool | undefined;
        if (where?.kind === 'awslogs' && state.lines > 0 && (state.leftOut || !started.ok || !started.livingTs)) {
          spool = await OutputSpool.create();
          const cursor: StreamCursor = {};
          const s = spool;
          await withAws(async (aws) => {
            for (let i = 0; i < MAX_FULL_READS; i++) {
              const lines = await readNewLines(aws, where, cursor);
              if (!lines.length) break;
              s.write(lines);
            }
          }).catch((error: unknown) => logger.warn('could not read the whole log again', { error }));
        }
        const logFile = await spool?.close();
        // The job's own container's exit code, as a script's: what the signed API and the command line report.
        const own = state.stopped?.containers.find((c) => c.name === plan.container.name)?.exitCode;
        await settle(end, {
          runId: input.runId,
          polls,
          detached: true,
          ...(own !== undefined ? { exitCode: own } : {}),
          ...(started.ok ? { taskArn: started.taskArn } : {}),
          ...(decision ? { approval: decision } : {}),
        });
        try {
          const out = await thread();
          const livingTs = started.ok ? started.livingTs : input.progressTs;
          if (livingTs) {
            const last = started.ok
              ? endedJobView(view(state, started.taskArn, started.where), end.ended)
              : `⏹️ Job ${code(label)} (run \`${input.runId}\`): ${end.ended}.`;
            await (await out.living(last, undefined, livingTs))?.close(last);
          }
          await once('finish', async () => {
            if (logFile && spool?.lines)
              await out.postWithFile(end.text, {
                path: logFile,
                filename: `job-${input.runId}.txt`,
                title: `Full log of ${label} (${spool.lines} lines, ${formatBytes(spool.bytes)})`,
              });
            else await out.post(end.text);
            await out.finish({ outcome: end.outcome, summary: end.summary });
          });
        } finally {
          await spool?.cleanup().catch(() => undefined);
        }
        return { outcome: end.outcome, summary: end.summary, ...(own !== undefined ? { exitCode: own } : {}), polls };
      },
      { retryStrategy: RETRY },
    );
  };
}
