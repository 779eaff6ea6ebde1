import { requestKey } from '../deploy/types';
import { isAllowed } from '../auth/roles';
import type { AckCommand } from './types';

/** What the worker keeps in the state table while a script runs (`run#<id>`). */
export interface RunRecord extends Record<string, unknown> {
  runId: string;
  script: string;
  target: string;
  userId: string;
  channelId: string;
  threadTs?: string;
  startedAt: string;
}

/** Longer than the longest approval wait (7 days) plus a run. */
const CANCEL_TTL_SECONDS = 8 * 86_400;

export const runKey = (runId: string) => `run#${runId}`;
export const cancelKey = (runId: string) => `cancel#${runId}`;

/**
 * `/ecs cancel <run-id>` (or the Cancel button): asks the running job to stop. The worker sees the
 * request within seconds, sends Ctrl-C, then ends the session, and says so in the thread.
 */
export const cancel: AckCommand = async ({ request, state, entry, invocation }) => {
  const runId = request.words.positional[0]!;
  const run = await state.get<RunRecord>(runKey(runId));
  if (!run) return { text: `No run \`${runId}\` is in progress (it may have finished already).` };
  const mayCancel = run.userId === invocation.userId || isAllowed(entry, 'run', { channelId: invocation.channelId, service: run.target, script: run.script }).allowed;
  if (!mayCancel) return { text: `🚫 Not allowed: only <@${run.userId}> or someone who may run \`${run.script}\` can cancel run \`${runId}\`.` };
  // Kept as long as a run may wait for its approval: a run cancelled while it waits never starts.
  const first = await state.claim(cancelKey(runId), CANCEL_TTL_SECONDS, { by: invocation.userId, at: new Date().toISOString() });
  const waiting = run.threadTs ? (await state.get<{ kind?: string; status?: string }>(requestKey(run.channelId, run.threadTs)))?.status === 'pending' : false;
  return {
    text: !first
      ? `Run \`${runId}\` is already being cancelled.`
      : waiting
        ? `🛑 Cancelled run \`${runId}\` (\`${run.script}\`, asked by <@${run.userId}>) while it waits for its approval: it will not start, even if approved.`
        : `🛑 Cancelling run \`${runId}\` (\`${run.script}\`, started by <@${run.userId}>): the script gets Ctrl-C, then its session is ended. The thread will say when it has stopped.`,
  };
};
