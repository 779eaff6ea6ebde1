/**
 * The durable workflow that carries a long `/ecs run` to its end. A Lambda lives at most 15
 * minutes and an ECS Exec session ends after 20 idle minutes, but a backup can take 40: the script
 * is started detached in the container (output and exit status to files of a per-run directory,
 * src/exec/detached.ts) and followed with short exec sessions between durable waits. A waiting
 * execution costs nothing and holds no Lambda; each poll is a fresh invocation that replays the
 * checkpointed steps and runs the next one.
 *
 * Replay rules this code follows: everything that touches the outside world (ECS, Slack, DynamoDB,
 * the clock) happens inside a step, whose result is checkpointed; code between steps only uses
 * step results and the input, so a replay takes the same path. The time limit is therefore a
 * number of polls, never Date.now(). A step may still run twice (its invocation died after the
 * work and before the checkpoint), so every Slack post is guarded by a state-table claim keyed by
 * the run and the poll: a retried step does not post the same output again.
 */
import { StepSemantics, type DurableContext } from '@aws/durable-execution-sdk-js';
import { newNonce } from '../exec/command';
import { buildDetachedLog, buildDetachedStart, buildDetachedStop, buildFollow, readFollow } from '../exec/detached';
import { execOnce, execPlace, type ExecPlace } from '../exec/exec-once';
import { OutputSpool } from '../exec/spool';
import { UserFacingError } from '../platform/errors';
import { code, escapeText, formatBytes, formatDuration } from '../slack/format';
import { cancelledReport, endReport, outputSize, timedOutReport } from '../exec/run-report';
import { endedView, OutputTail, runningView, type RunViewState } from '../exec/run-view';
import type { RunWorkflowInput } from './inputs';
import { pickExecTask } from '../exec/target';

export type { RunWorkflowDeps, RunWorkflowResult } from './run-kit';
import { maxPolls, NO_RETRY, readCancel, RETRY, runWorkflowKit, type RunWorkflowDeps, type RunWorkflowResult } from './run-kit';

/** Checkpointed result of `start`. */
type StartResult = { ok: true; place: ExecPlace; livingTs?: string } | { ok: false; message: string; cancelled?: boolean };

/** Checkpointed result of one `follow-N` step. */
interface FollowResult {
  offset: number;
  /** The lines the living message shows, and whether earlier ones left it (then the file goes with the end). */
  tail: string[];
  leftOut: boolean;
  exitCode?: number;
  stop?: 'cancelled' | 'timeout';
  cancelledBy?: string;
}

export function createRunWorkflow(deps: RunWorkflowDeps) {
  const now = deps.now ?? Date.now;
  const sessionTimeoutMs = deps.sessionTimeoutMs ?? 120_000;

  return async function runWorkflow(input: RunWorkflowInput, context: DurableContext): Promise<RunWorkflowResult> {
    const { logger, withAws, thread, once, approval, waitForPoll, settle } = runWorkflowKit(deps, input, context);
    const label = `${input.script}${input.args.length ? ` ${input.args.join(' ')}` : ''}`;
    /** The living message's state after `offset` bytes, `shown` the lines it shows. */
    const view = (offset: number, shown: OutputTail, place = (started as { place: ExecPlace }).place): RunViewState => ({
      label,
      runId: input.runId,
      place,
      elapsedMs: now() - input.startedAt,
      bytes: offset,
      tail: shown,
      note: `detached; new output every ${formatDuration(input.pollSeconds * 1000)}, it stops after ${formatDuration(input.timeoutSeconds * 1000)}`,
    });
    /** Edits the living message a previous step posted (an edit: safe to repeat). */
    const showProgress = async (state: RunViewState) => {
      const ts = started.ok ? started.livingTs : undefined;
      if (!ts) return;
      const out = await thread();
      const v = runningView(state);
      const living = await out.living(v.text, v.blocks, ts);
      living?.update(v.text, v.blocks);
      await out.flush();
    };
    /** Reads the output since `offset` and the exit status once written. */
    const follow = async (offset: number): Promise<{ offset: number; output: string[]; exitCode?: number }> => {
      const place = started.ok ? started.place : undefined;
      const nonce = newNonce();
      const res = await withAws((aws) =>
        execOnce({
          aws,
          alias: input.target,
          place: place!,
          command: buildFollow({ runId: input.runId, offset, nonce }),
          nonce,
          timeoutMs: sessionTimeoutMs,
          logger,
        }),
      );
      const { output, size } = readFollow(res.lines, nonce);
      // Without the size line the session ended early: throwing makes the step retry from `offset`.
      if (size === undefined) throw new Error(`follow session ended without its size line (${res.reason}${res.error ? `: ${res.error.message}` : ''})`);
      return { offset: size, output, ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}) };
    };

    // ---- approval (scripts declared requiresApproval) ----------------------------------------
    const { decision, refusal } = await approval();

    // ---- start ------------------------------------------------------------------------------
    const started: StartResult = refusal
      ? { ok: false, message: refusal }
      : await context.step(
          'start',
          async () => {
            const script = deps.config().scripts[input.script];
            if (!script) return { ok: false, message: `Script ${code(input.script)} is no longer in the configuration.` };
            // Cancelled while it waited for its approval: it never starts.
            const cancelled = await readCancel(deps, input.runId);
            if (cancelled)
              return { ok: false, cancelled: true, message: `Cancelled${cancelled.by ? ` by <@${cancelled.by}>` : ''} before it started. Nothing was run.` };
            try {
              return await withAws(async (aws) => {
                const target = deps.config().targets[input.target]!;
                const place = execPlace(await pickExecTask(aws, input.target, target));
                const nonce = newNonce();
                const res = await execOnce({
                  aws,
                  alias: input.target,
                  place,
                  command: buildDetachedStart({ runId: input.runId, path: input.path ?? script.path, args: input.args, nonce }),
                  nonce,
                  timeoutMs: sessionTimeoutMs,
                  logger,
                });
                if (res.exitCode !== 0) {
                  const said = res.lines.filter(Boolean).slice(-3).join(' / ');
                  return {
                    ok: false as const,
                    message: `The script could not be started in ${code(place.container)}${said ? `: ${escapeText(said)}` : ` (${res.reason})`}.`,
                  };
                }
                const first = runningView(view(0, new OutputTail(), place));
                const out = await thread();
                // The worker's living message when it posted one; otherwise (after an approval) one posted now.
                let livingTs = input.progressTs;
                if (livingTs) {
                  (await out.living(first.text, first.blocks, livingTs))?.update(first.text, first.blocks);
                  await out.flush();
                } else await once('start', async () => void (livingTs = (await out.living(first.text, first.blocks))?.ts));
                return { ok: true as const, place, ...(livingTs ? { livingTs } : {}) };
              });
            } catch (error) {
              if (error instanceof UserFacingError) return { ok: false, message: error.userMessage };
              throw error;
            }
          },
          // A retried start could launch the script twice: at most once, and a failure is reported.
          { semantics: StepSemantics.AtMostOncePerRetry, retryStrategy: NO_RETRY },
        );

    // ---- follow until the script ends, is cancelled or reaches its time limit -----------------
    let offset = 0;
    let shown: Pick<FollowResult, 'tail' | 'leftOut'> = { tail: [], leftOut: false };
    let exitCode: number | undefined;
    let stop: FollowResult['stop'];
    let cancelledBy: string | undefined;
    let polls = 0;
    const limit = maxPolls(input);
    while (started.ok && exitCode === undefined && !stop) {
      await waitForPoll(polls + 1);
      polls++;
      const poll = polls;
      const from = offset;
      const before = shown;
      const r: FollowResult = await context.step(
        `follow-${poll}`,
        async () => {
          const { output, ...read } = await follow(from);
          const tail = new OutputTail(before.tail, before.leftOut);
          tail.add(output);
          const result = { ...read, tail: [...tail.lines], leftOut: tail.leftOut };
          if (read.exitCode !== undefined) return result;
          const cancel = await readCancel(deps, input.runId);
          if (cancel) return { ...result, stop: 'cancelled' as const, ...(cancel.by ? { cancelledBy: cancel.by } : {}) };
          if (poll >= limit) return { ...result, stop: 'timeout' as const };
          await showProgress(view(read.offset, tail));
          return result;
        },
        { retryStrategy: RETRY },
      );
      offset = r.offset;
      shown = { tail: r.tail, leftOut: r.leftOut };
      exitCode = r.exitCode;
      stop = r.stop;
      cancelledBy = r.cancelledBy;
    }

    let outputAfterStop = false;
    // ---- stop: interrupt the process group, then read what is left ----------------------------
    if (stop) {
      const from = offset;
      const r = await context.step(
        'stop',
        async () => {
          await withAws((aws) =>
            execOnce({
              aws,
              alias: input.target,
              place: (started as { place: ExecPlace }).place,
              command: buildDetachedStop({ runId: input.runId }),
              nonce: newNonce(),
              timeoutMs: sessionTimeoutMs,
              logger,
            }),
          );
          // What came after the stop goes to the file only, not into the living message.
          const { output, ...read } = await follow(from);
          return { ...read, after: output.length };
        },
        { retryStrategy: RETRY },
      );
      outputAfterStop = r.after > 0;
      offset = r.offset;
      exitCode = r.exitCode;
    }

    // ---- finish: the end in the thread, the full log, the lock and the audit ------------------
    return context.step(
      'finish',
      async (): Promise<RunWorkflowResult> => {
        const endedAt = now();
        const took = formatDuration(endedAt - input.startedAt);
        // The script ended on its own once its status was written; otherwise its group was killed.
        const interrupted = exitCode !== undefined;
        const report = refusal
          ? { text: `🚫 Not run: ${refusal}. Nothing was started.`, outcome: 'cancelled' as const, summary: `not run: ${refusal}`, ended: 'not run' }
          : !started.ok
            ? {
                text: `${started.cancelled ? '🚫' : '❌'} ${started.message}`,
                outcome: started.cancelled ? ('cancelled' as const) : ('failure' as const),
                summary: started.message.split('\n')[0]!,
                ended: 'not started',
              }
            : stop === 'cancelled'
              ? cancelledReport(label, { by: cancelledBy, took, exit: exitCode, interrupted })
              : stop === 'timeout'
                ? timedOutReport(label, { took, limit: formatDuration(input.timeoutSeconds * 1000), interrupted, exit: exitCode })
                : undefined;

        // The whole output file, only when the living message could not show all of it (or is missing).
        const needFile = started.ok && offset > 0 && (shown.leftOut || outputAfterStop || !started.livingTs);
        let spool: OutputSpool | undefined;
        let logFile: string | undefined;
        if (needFile) {
          spool = await OutputSpool.create();
          const s = spool;
          const nonce = newNonce();
          const cat = buildDetachedLog({ runId: input.runId, nonce });
          const res = await withAws((aws) =>
            execOnce({
              aws,
              alias: input.target,
              place: started.place,
              command: cat,
              nonce,
              keepLines: false,
              onLines: (lines) => s.write(lines),
              timeoutMs: sessionTimeoutMs,
              logger,
            }),
          ).catch((error: unknown) => {
            logger.warn('could not read the full output file', { error });
            return undefined;
          });
          logFile = await spool.close();
          if (res?.exitCode !== 0) logFile = undefined;
        }
        const size = spool ? outputSize(spool) : `${formatBytes(offset)} of output`;
        const end = report ?? endReport(label, exitCode, took, size);
        // The record first, then the locks, then the message: whoever sees the end finds them done.
        await settle(end, {
          runId: input.runId,
          polls,
          detached: true,
          ...(exitCode !== undefined ? { exitCode } : {}),
          ...(decision ? { approval: decision } : {}),
        });
        try {
          const out = await thread();
          // The living message ends with the run, without its Cancel button.
          const livingTs = started.ok ? started.livingTs : input.progressTs;
          if (livingTs) {
            const last = started.ok
              ? endedView({ ...view(offset, new OutputTail(shown.tail, shown.leftOut)), elapsedMs: endedAt - input.startedAt }, end.ended)
              : `⏹️ ${code(label)} (run \`${input.runId}\`): ${end.ended}.`;
            await (await out.living(last, undefined, livingTs))?.close(last);
          }
          await once('finish', async () => {
            if (logFile)
              await out.postWithFile(end.text, {
                path: logFile,
                filename: `output-${input.runId}.txt`,
                title: `Full output of ${label} (${spool?.lines} lines, ${formatBytes(spool?.bytes ?? offset)})`,
              });
            else await out.post(end.text);
            await out.finish({ outcome: end.outcome, summary: end.summary });
          });
        } finally {
          await spool?.cleanup().catch(() => undefined);
        }

        return { outcome: end.outcome, summary: end.summary, ...(exitCode !== undefined ? { exitCode } : {}), polls };
      },
      { retryStrategy: RETRY },
    );
  };
}
