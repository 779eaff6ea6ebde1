/**
 * `/ecs logs <service> --follow 5m`: after the window, new lines as they arrive, in one living
 * message (its latest lines, a Cancel button), every line in the file attached at the end.
 *
 * Polling FilterLogEvents, not StartLiveTail: the emulator does not model Live Tail's event stream
 * (HTTP/2 event-stream framing), so it could not be tested faithfully. Each poll reads from a
 * little before the newest line seen (CloudWatch may ingest a line after a later one), and lines
 * already shown are known by their eventId: none is lost or repeated.
 *
 * A follow is a run (`run#<id>` in the state table, `follow: true`) so `/ecs cancel <id>` and the
 * Cancel button stop it: the person who started it may, others need `run` on the service
 * (src/commands/cancel.ts). It ends at its duration, at a cancel, or cleanly with a note when the
 * worker Lambda's time is nearly out (it is not handed to a durable workflow: 15 minutes fit one
 * Lambda, less the window read before it).
 */
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { forgetBefore, type LogQuery, searchLogEvents } from '../ecs/log-search';
import type { OutputSpool } from '../exec/spool';
import { cancelBlocks } from '../exec/run-report';
import { shortId } from '../platform/short-id';
import { cancelKey, runKey } from '../platform/state-keys';
import { codeBlockTail } from '../slack/format';
import type { WorkerContext } from '../worker/context';
import type { RunRecord } from './cancel';

/** Between two reads (and two looks for a cancel). */
export const FOLLOW_POLL_MS = 2000;
/** Each read goes back this far before the newest line seen: lines ingested late are still found. */
const LATE_LINES_MS = 30_000;
/** The follow ends this long before the Lambda's deadline: time to close the message and attach the file. */
const FOLLOW_MARGIN_MS = 30_000;
/** Lines shown in the living message. */
const SHOWN_LINES = 20;
/** Characters of lines in the living message (a section's text is at most 3000). */
const SHOWN_CHARS = 2400;

export type FollowEnd = { why: 'duration' } | { why: 'cancelled'; by?: string } | { why: 'deadline' };

export interface FollowSpec {
  client: CloudWatchLogsClient;
  query: Omit<LogQuery, 'startTime' | 'endTime'>;
  /** Where the follow starts reading (the end of the window). */
  from: number;
  /** No read goes back before this (the window's start: a line of the window ingested late is still found). */
  floor: number;
  durationMs: number;
  /** What is followed, for the message: `app` of *web*… (Slack text). */
  about: string;
  spool: OutputSpool;
  seen: Map<string, number>;
  /** The last lines already shown (the window's), continued by the follow. */
  tail: string[];
  format: (event: { timestamp: number; stream: string; message: string; eventId: string }) => string;
  /** How long a follow may last here. */
  describe: (ms: number) => string;
}

export async function followLogs(ctx: WorkerContext, spec: FollowSpec): Promise<FollowEnd & { runId: string; lines: number }> {
  const runId = shortId();
  const { invocation } = ctx.job;
  const started = ctx.now();
  const record: RunRecord = {
    runId,
    script: 'logs --follow',
    follow: true,
    target: ctx.target!.alias,
    teamId: invocation.teamId,
    userId: invocation.userId,
    channelId: invocation.channelId,
    threadTs: ctx.out.parentTs,
    startedAt: new Date(started).toISOString(),
  };
  await ctx.state.claim(runKey(runId), Math.ceil(spec.durationMs / 1000) + 900, record);
  const tail = spec.tail.slice(-SHOWN_LINES);
  let lines = 0;
  const view = (head: string) => `${head}\n${tail.length ? codeBlockTail(tail, SHOWN_CHARS) : '_no new lines yet_'}`;
  const running = () =>
    view(
      `👀 Following ${spec.about} for ${spec.describe(spec.durationMs)} · run \`${runId}\` · ${lines} new line${lines === 1 ? '' : 's'} · \`/ecs cancel ${runId}\` or Cancel stops it`,
    );
  const living = await ctx.out.living(running(), cancelBlocks(running(), runId)).catch((error: unknown) => {
    ctx.logger.warn('living message not posted', { error });
    return undefined;
  });
  let end: FollowEnd | undefined;
  let newest = spec.from;
  try {
    while (!end) {
      const cancel = await ctx.state.get<{ by?: string }>(cancelKey(runId)).catch(() => undefined);
      if (cancel) end = { why: 'cancelled', ...(cancel.by ? { by: cancel.by } : {}) };
      else if (ctx.now() - started >= spec.durationMs) end = { why: 'duration' };
      else if (ctx.remainingMs() < FOLLOW_MARGIN_MS + FOLLOW_POLL_MS) end = { why: 'deadline' };
      if (end) break;
      const query: LogQuery = { ...spec.query, startTime: Math.max(spec.floor, newest - LATE_LINES_MS) };
      forgetBefore(spec.seen, query.startTime);
      let changed = false;
      for await (const page of searchLogEvents(spec.client, query, { seen: spec.seen })) {
        const text = page.map(spec.format);
        spec.spool.write(text);
        tail.push(...text);
        tail.splice(0, Math.max(0, tail.length - SHOWN_LINES));
        lines += page.length;
        newest = Math.max(newest, ...page.map((e) => e.timestamp));
        changed = true;
      }
      if (changed) living?.update(running(), cancelBlocks(running(), runId));
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  } catch (error) {
    // The worker reports the error; the message loses its Cancel button, which would stop nothing.
    await living?.close(view(`❌ Stopped following ${spec.about}: a read failed (below).`)).catch(() => undefined);
    throw error;
  } finally {
    await ctx.state.release(runKey(runId)).catch(() => undefined);
    await ctx.state.release(cancelKey(runId)).catch(() => undefined);
  }
  const took = spec.describe(ctx.now() - started);
  const ended =
    end.why === 'cancelled'
      ? `🚫 Stopped following ${spec.about} after ${took}: cancelled${end.by ? ` by <@${end.by}>` : ''}.`
      : end.why === 'deadline'
        ? `⏹️ Stopped following ${spec.about} after ${took}: the worker's time (15 min a Lambda, the window's read included) was nearly out. \`/ecs logs ${ctx.target!.alias} --follow …\` again to go on.`
        : `⏹️ Followed ${spec.about} for ${took}.`;
  await living?.close(view(`${ended} ${lines} new line${lines === 1 ? '' : 's'}.`)).catch(() => undefined);
  return { ...end, runId, lines };
}
