import type { Invocation } from '../slack/invocation';
import { mention } from '../slack/invocation';
import { escapeText } from '../slack/format';
import { permalink } from '../slack/client';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { RunRecord } from './cancel';

/** What a schedule's run says when the previous one still runs (the thread, the audit's reason). */
export const SKIPPED_STILL_RUNNING = 'skipped: previous run still running';

/**
 * Does this run take its script's (or job's) lock? Always for a schedule: a schedule never overlaps
 * itself, even for a script that allows overlapping runs by people.
 */
export const takesRunLock = (allowOverlap: boolean, invocation: Pick<Invocation, 'origin'>): boolean => !allowOverlap || invocation.origin?.via === 'schedule';

/** The lock is held: nothing runs; who holds it, and where, only when that is this channel (this thread is public here). */
export async function alreadyRunning(
  ctx: WorkerContext,
  found: RunRecord | undefined,
  what: { shown: string; name: string; target: string },
): Promise<CommandResult> {
  const { invocation } = ctx.job;
  const holder = found?.channelId === invocation.channelId ? found : undefined;
  const link = holder?.threadTs ? await permalink(ctx.slack, holder.channelId, holder.threadTs) : undefined;
  const by = holder
    ? `: started by ${mention(holder.userId)} at ${holder.startedAt.slice(11, 19)} UTC (run \`${holder.runId}\`)${link ? `, <${link}|see its thread>` : ''}`
    : '';
  if (invocation.origin?.via === 'schedule') {
    await ctx.out.post(
      `⏭️ Skipped: the previous run of ${what.shown} on \`${what.target}\` is still running${by}. A schedule never overlaps itself; the next one is due at its next time.`,
    );
    return { outcome: 'failure', summary: SKIPPED_STILL_RUNNING };
  }
  await ctx.out.post(
    `${what.shown} is already running on \`${what.target}\`${by}. One run at a time; \`/ecs cancel ${holder?.runId ?? '&lt;run-id&gt;'}\` stops it${found && !holder ? ' (it was started in another channel)' : ''}.`,
  );
  return { outcome: 'failure', summary: `${escapeText(what.name)}: already running` };
}
