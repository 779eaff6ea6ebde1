import { holdsPermissionHere, isAllowed } from '../auth/roles';
import { declaredLabels, withLabels } from '../fleet/memory-catalog';
import { formatDuration } from '../slack/format';
import { mention } from '../slack/invocation';
import { HiddenRefusalError, PermissionDeniedError } from '../platform/errors';
import type { AckAnswer, AckContext } from './types';
import type { CancelArgs } from './verbs/args';
import { cancelKey, runKey, trackedKey } from '../platform/state-keys';

/** What the worker keeps in the state table while a script runs (`run#<id>`). */
export interface RunRecord extends Record<string, unknown> {
  runId: string;
  /** The script's name, or the job's (`kind: 'job'`). */
  script: string;
  /** A one-off job (src/commands/job.ts): cancelling it stops its task (StopTask). */
  kind?: 'job';
  target: string;
  /** The team the run was asked from (absent on records written before it was kept). */
  teamId?: string;
  userId: string;
  channelId: string;
  threadTs?: string;
  startedAt: string;
  /**
   * A detached run (src/workflows/run.ts): the workflow sleeps between its follows and sees a
   * cancel at the next one, this many seconds apart at most, unless the cancel wakes it (`wakeId`).
   * Absent: the worker sees it at once.
   */
  checkedEverySeconds?: number;
  /** The callback of the detached run's current wait between polls (src/workflows/run-wake.ts). */
  wakeId?: string;
  /** Not a script: `/ecs logs --follow` (src/commands/logs-follow.ts), cancelled as `run` on its whole service. */
  follow?: true;
}

/** Longer than the longest approval wait (7 days) plus a run. */
const CANCEL_TTL_SECONDS = 8 * 86_400;

/**
 * `/ecs cancel <run-id>` (or the Cancel button): asks the running job to stop. The worker sees the
 * request within seconds, sends Ctrl-C, then ends the session, and says so in the thread.
 */
export const cancel: AckAnswer<CancelArgs> = async ({ runId }, { state, entry, invocation, wakeRun, config }) => {
  // The verb asks only for a role here (a viewer may stop the follow they started); stopping
  // anything else needs `run` in this channel, refused as it always was, whether the run exists or not.
  const runsHere = holdsPermissionHere(entry, 'run', invocation.channelId);
  const run = await state.get<RunRecord>(runKey(runId));
  if (!runsHere.allowed && run?.userId !== invocation.userId) throw new PermissionDeniedError(runsHere.reason);
  const noRun = `No run \`${runId}\` is in progress (it may have finished already).`;
  if (!run) return { text: noRun };
  // Someone who may not cancel it learns nothing about it (script, service, channel, who asked):
  // the same answer as for no run, audited as the denial it is.
  if ((run.teamId ?? invocation.teamId) !== invocation.teamId) throw new HiddenRefusalError(noRun, `run ${runId} belongs to workspace ${run.teamId}`);
  // Checked against the run itself (its service, script and channel), not where the command is typed.
  const mine = run.userId === invocation.userId;
  // A follow acts on the service, no script: `run` on the whole service, its channel and service named as for a script.
  const scope = run.follow
    ? { channelId: run.channelId, service: run.target, wholeService: true as const }
    : { channelId: run.channelId, service: run.target, script: run.script };
  if (!mine) {
    const decision = isAllowed(entry, 'run', withLabels(scope, declaredLabels(config)));
    if (!decision.allowed) throw new HiddenRefusalError(noRun, `may not cancel run ${runId} of ${run.script} in ${run.channelId}: ${decision.reason}`);
  }
  // Kept as long as a run may wait for its approval: a run cancelled while it waits never starts.
  const first = await state.claim(cancelKey(runId), CANCEL_TTL_SECONDS, { by: invocation.userId, at: new Date().toISOString() });
  // The cancel is stored: from here on a failing lookup only makes the answer less specific.
  const waiting = run.threadTs
    ? await state.get<{ kind?: string; status?: string }>(trackedKey(run.channelId, run.threadTs)).then(
        (r) => r?.status === 'pending',
        () => false,
      )
    : false;
  // A detached run: wake its workflow now (the wait it is in, read after the cancel was stored; a
  // wait armed later sees the cancel itself). Failing, the cancel still stands for the next poll.
  const woken = first && run.checkedEverySeconds && !waiting ? await wakeWorkflow(runId, state, wakeRun) : undefined;
  const what = run.kind === 'job' ? `job \`${run.script}\`` : `\`${run.script}\``;
  return {
    text: !first
      ? `Run \`${runId}\` is already being cancelled.`
      : run.follow
        ? `🛑 Stopping \`/ecs logs ${run.target} --follow\` (run \`${runId}\`, started by ${mention(run.userId)}): it ends within seconds.`
        : waiting
          ? `🛑 Cancelled run \`${runId}\` (${what}, asked by ${mention(run.userId)}) while it waits for its approval: it will not start, even if approved.`
          : run.checkedEverySeconds && woken === false
            ? `🛑 Cancelling run \`${runId}\` (${what}, started by ${mention(run.userId)}): the cancel is stored, but its workflow could not be woken just now, so it stops at its next check, within ${formatDuration(run.checkedEverySeconds * 1000)} (${run.kind === 'job' ? 'its task is then stopped with StopTask' : 'Ctrl-C to its processes, then they are killed'}). The thread will say when it has stopped.`
            : run.checkedEverySeconds
              ? `🛑 Cancelling run \`${runId}\` (${what}, started by ${mention(run.userId)}): ${run.kind === 'job' ? 'its workflow stops its task now (StopTask)' : 'it runs detached; its processes get Ctrl-C now, then they are killed'}. The thread will say when it has stopped.`
              : run.kind === 'job'
                ? `🛑 Cancelling run \`${runId}\` (job \`${run.script}\`, started by ${mention(run.userId)}): its task is stopped now (StopTask). The thread will say when it has stopped.`
                : `🛑 Cancelling run \`${runId}\` (\`${run.script}\`, started by ${mention(run.userId)}): the script gets Ctrl-C now, then its session is ended. The thread will say when it has stopped.`,
  };
};

/**
 * Ends the detached run's current wait: true when woken or already polling (its wait is over, and
 * the poll reads the cancel); false when the wake could not be sent (the next poll sees the cancel).
 */
async function wakeWorkflow(runId: string, state: AckContext['state'], wakeRun: AckContext['wakeRun']): Promise<boolean> {
  if (!wakeRun) return false;
  try {
    const wakeId = (await state.get<RunRecord>(runKey(runId)))?.wakeId;
    // No wait recorded yet: the workflow is starting, and its first wait reads the cancel when armed.
    if (!wakeId) return true;
    await wakeRun(wakeId);
    return true;
  } catch {
    return false;
  }
}
