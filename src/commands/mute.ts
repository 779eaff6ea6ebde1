import { stateMuteStore, type MuteRecord } from '../notify/mute';
import { escapeText } from '../slack/format';
import { describeMinutes, describeUtcTime } from './duration';
import type { WorkerHandler } from './verb';
import type { MuteArgs, UnmuteArgs } from './verbs/args';

/** "muted by @bob until 14:05 UTC (deploy window)": a mute as people read it; the reason is plain text, escaped here. */
export function describeMute(record: MuteRecord, now: number): string {
  return `muted by <@${record.by}> until ${describeUtcTime(new Date(record.until), new Date(now))}${record.reason ? ` (${escapeText(record.reason)})` : ''}`;
}

export const mute: WorkerHandler<MuteArgs> = async ({ target, minutes, reason }, ctx) => {
  const mutes = stateMuteStore(ctx.state, ctx.now);
  const now = ctx.now();
  const until = new Date(now + minutes * 60_000);
  const previous = await mutes.mutedUntil(target, now);
  await mutes.mute({ target, until: until.toISOString(), by: ctx.job.invocation.userId, ...(reason ? { reason } : {}) });
  const what = `${target} notifications for ${describeMinutes(minutes)} (until ${describeUtcTime(until, new Date(now))})${reason ? `: ${escapeText(reason)}` : ''}`;
  const replaced = previous ? `\nThis replaces the mute ${describeMute(previous, now)}.` : '';
  await ctx.out.post(`🔕 <@${ctx.job.invocation.userId}> muted ${what}${replaced}\n\`/ecs unmute ${target}\` ends it early.`);
  return { outcome: 'success', summary: `🔕 muted ${what}` };
};

export const unmute: WorkerHandler<UnmuteArgs> = async ({ target }, ctx) => {
  const removed = await stateMuteStore(ctx.state, ctx.now).unmute(target);
  if (!removed) {
    await ctx.out.post(`${target} was not muted: its notifications are on. Nothing changed.`);
    return { outcome: 'success', summary: `${target} was not muted` };
  }
  await ctx.out.post(`🔔 <@${ctx.job.invocation.userId}> unmuted ${target} notifications (they were ${describeMute(removed, ctx.now())}).`);
  return { outcome: 'success', summary: `🔔 unmuted ${target} notifications` };
};
