import { shortId } from '../platform/short-id';
import { lookup } from '../config/records';
import type { Script } from '../config/schema';
import { buildExecCommand, newNonce } from '../exec/command';
import { connectExecSession, execPlace, startExecCommand } from '../exec/exec-once';
import { OutputCleaner } from '../exec/output';
import type { ExecSessionResult } from '../exec/session';
import { cancelledReport, endReport, outputSize, timedOutReport } from '../exec/run-report';
import { endedView, OutputTail, runningView, type RunViewState } from '../exec/run-view';
import { OutputSpool } from '../exec/spool';
import { code, escapeText, formatBytes, formatDuration } from '../slack/format';
import type { RunRecord } from './cancel';
import { alreadyRunning, takesRunLock } from './run-lock';
import { pickExecTask } from '../exec/target';
import { validateScriptArgs } from './script-args';
import { UsageError } from '../platform/errors';
import { handOff, handOffInput, pollSecondsOf, REPORT_RESERVE_MS } from './detach';
import type { WorkerHandler } from './verb';
import type { RunArgs } from './verbs/args';
import type { CommandResult, WorkerContext } from '../worker/context';
import { cancelKey, runKey, runLockKey } from '../platform/state-keys';

/** How often a running script looks for a cancel: a cancel stops it within about 2 s. */
const CANCEL_POLL_MS = 500;
/** After Ctrl-C, how long the script gets to stop before its session is ended. */
const INTERRUPT_GRACE_MS = 1000;
/** A quiet script's living message still shows its elapsed time moving on. */
const TICK_MS = 10_000;
/**
 * Runs allowed longer than this are always detached: an ECS Exec session ends after 20 idle
 * minutes (a quiet script would lose its session), and a Lambda lives at most 15.
 */
const DETACH_ABOVE_SECONDS = 12 * 60;

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
  const locked = takesRunLock(script.allowOverlap, invocation);
  if (locked && !(await ctx.state.claim(lock, holdSeconds, record))) {
    return alreadyRunning(ctx, await ctx.state.get<RunRecord>(lock), { shown: `\`${name}\``, name, target: script.target });
  }
  await ctx.state.claim(runKey(runId), holdSeconds, record);
  let handedOff = false;
  try {
    if (detach) {
      const result = await handOff(ctx, {
        label,
        shown: code(label),
        runId,
        target: script.target,
        timeoutSeconds: script.timeoutSeconds,
        requiresApproval: script.requiresApproval,
        how: 'runs detached in the container',
        details: [
          `\`${script.path}\`${script.description ? ` (${escapeText(script.description)})` : ''} with ${args.length ? args.map(code).join(' ') : 'no arguments'}, at most ${formatDuration(script.timeoutSeconds * 1000)}`,
        ],
        input: {
          ...handOffInput(ctx, {
            runId,
            name,
            args,
            target: script.target,
            lockKey: locked ? lock : undefined,
            startedAt: started,
            timeoutSeconds: script.timeoutSeconds,
          }),
          // The path as the request was made (and approved).
          path: script.path,
        },
      });
      handedOff = result.continues === true;
      return result;
    }
    return await runInline(ctx, { name, script, args, label, runId, started });
  } finally {
    if (!handedOff) {
      await ctx.state.release(runKey(runId)).catch(() => undefined);
      if (locked) await ctx.state.release(lock, { runId }).catch(() => undefined);
    }
  }
};

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
  return { outcome: end.outcome, summary: end.summary, cleanup, ...(exit !== undefined ? { exitCode: exit } : {}) };
}
