import { historyQueryInput, readHistory, type HistoryRow } from '../audit/history';
import { declaredLabels } from '../fleet/memory-catalog';
import { lookup } from '../config/records';
import type { Config, Schedule } from '../config/schema';
import { UsageError } from '../platform/errors';
import { tableName } from '../platform/tables';
import { nextRun, parseScheduleExpression } from '../schedules/expression';
import { scheduleCommandText, scheduleUserId, visibleSchedules } from '../schedules/principal';
import { visibleServices } from '../auth/roles';
import type { ScheduleStatus, Schedules } from '../schedules/scheduler';
import { code, escapeText } from '../slack/format';
import type { WorkerContext } from '../worker/context';
import { documentQuery } from './history';
import type { WorkerHandler } from './verb';
import type { SchedulesArgs } from './verbs/args';

/** `2026-12-07 03:00 Europe/Paris (02:00 UTC)`: the next run as the schedule reads it, and in UTC. */
export function describeInstant(t: number, zone: string): string {
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(t);
  const utc = new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  return zone === 'UTC' ? `${utc} UTC` : `${local} ${zone} (${utc} UTC)`;
}

/** One line per schedule: what it runs, when, its state, when next, how it last ended. */
export function scheduleLine(
  name: string,
  schedule: Schedule,
  config: Config,
  status: ScheduleStatus | undefined | { error: string },
  last: HistoryRow | undefined,
  now: number,
): string {
  const what = scheduleCommandText(config, schedule) ?? '?';
  if (status && 'error' in status) {
    return `• ${code(name)}: ${code(`/ecs ${what}`)} in <#${schedule.channel}> · ${code(schedule.expression)} ${code(schedule.timezone)} · ⚠️ state unknown: EventBridge Scheduler answered ${code(status.error)}`;
  }
  const state = status ? (status.state === 'ENABLED' ? '🟢 ENABLED' : '⏸️ DISABLED') : '⚠️ not deployed';
  const next = status?.state === 'ENABLED' ? nextRun(parseScheduleExpression(schedule.expression), schedule.timezone, now, status.createdAt) : undefined;
  const when = status?.state !== 'ENABLED' ? 'no next run' : next === undefined ? 'no further run' : `next ${describeInstant(next, schedule.timezone)}`;
  const lastText = last
    ? `last: ${escapeText(last.outcome)} at ${last.at.slice(0, 16).replace('T', ' ')} UTC${last.reason && last.outcome !== 'success' ? ` (${escapeText(last.reason)})` : ''}`
    : 'no run yet';
  return `• ${code(name)}: ${code(`/ecs ${what}`)} in <#${schedule.channel}> · ${code(schedule.expression)} ${code(schedule.timezone)} · ${state} · ${when} · ${lastText}${schedule.description ? `\n   ${escapeText(schedule.description)}` : ''}`;
}

/** The newest audit record of a schedule's runs (the history's user index: cheap, one small Query). */
async function lastRun(teamId: string, name: string): Promise<HistoryRow | undefined> {
  const read = await readHistory(documentQuery, historyQueryInput({ teamId, userId: scheduleUserId(name) }, tableName('audit')), {
    max: 1,
    visible: () => true,
  });
  return read.rows[0];
}

function schedulerOf(ctx: WorkerContext): Schedules {
  if (!ctx.schedules) throw new Error('the worker was built without EventBridge Scheduler');
  return ctx.schedules;
}

export const schedules: WorkerHandler<SchedulesArgs> = async (args, ctx) => {
  const { invocation } = ctx.job;
  const scheduler = schedulerOf(ctx);
  if (args.action === 'list') {
    const entry = await ctx.allowlist.get(invocation.teamId, invocation.userId);
    const names = visibleSchedules(ctx.config, visibleServices(entry, invocation.channelId, Object.keys(ctx.config.targets), declaredLabels(ctx.config)));
    if (names.length === 0) {
      await ctx.out.post('No schedules on the services you hold a role on here (the configuration’s `schedules:`).');
      return { outcome: 'success', summary: 'no schedules' };
    }
    const lines = await Promise.all(
      names.map(async (name) => {
        const schedule = ctx.config.schedules[name]!;
        // One schedule Scheduler cannot describe (a throttle, a missing grant) does not hide the others.
        const [status, last] = await Promise.all([
          scheduler.get(name).catch((error: unknown) => ({ error: (error as Error).name || 'an error' })),
          lastRun(invocation.teamId, name),
        ]);
        return scheduleLine(name, schedule, ctx.config, status, last, ctx.now());
      }),
    );
    await ctx.out.post([`*Schedules* (EventBridge Scheduler, declared in the configuration):`, ...lines].join('\n'));
    return { outcome: 'success', summary: `${names.length} schedule${names.length === 1 ? '' : 's'}` };
  }
  const schedule = lookup(ctx.config.schedules, args.schedule);
  if (!schedule) throw new UsageError(`Schedule \`${escapeText(args.schedule)}\` is no longer declared.`);
  const state = args.action === 'pause' ? 'DISABLED' : 'ENABLED';
  const previous = await scheduler.setState(args.schedule, state);
  const name = code(args.schedule);
  if (previous === state) {
    await ctx.out.post(`${name} was already ${state === 'DISABLED' ? 'paused' : 'running'} (${state}); nothing changed.`);
    return { outcome: 'success', summary: `${escapeText(args.schedule)}: already ${state}` };
  }
  const next = state === 'ENABLED' ? nextRun(parseScheduleExpression(schedule.expression), schedule.timezone, ctx.now()) : undefined;
  await ctx.out.post(
    state === 'DISABLED'
      ? `⏸️ Paused ${name}: EventBridge Scheduler will not start it until \`/ecs schedules resume ${escapeText(args.schedule)}\` (a deployment sets the configuration’s state again).`
      : `▶️ Resumed ${name}${next !== undefined ? `: next run ${describeInstant(next, schedule.timezone)}` : ''}.`,
  );
  return { outcome: 'success', summary: `${escapeText(args.schedule)}: ${state === 'DISABLED' ? 'paused' : 'resumed'}` };
};
