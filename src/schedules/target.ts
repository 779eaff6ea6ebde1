import type { Config } from '../config/schema';
import type { ApiCommand } from '../api/requests';
import { log } from '../platform/logger';
import type { Requester } from '../api/requester';
import { scheduleCommandText, scheduleRequester } from './principal';
import { CATALOG_REFRESH_TEXT, CATALOG_SCHEDULE, catalogSchedule } from '../fleet/schedule';

/**
 * What EventBridge Scheduler sends the `scheduled` function: the schedule's Target.Input, with
 * `<aws.scheduler.scheduled-time>` replaced by the time this invocation was scheduled for
 * (scripts/schedule-events.cjs writes it): `{"schedule":"nightly-backup","scheduledTime":"2026-12-07T02:00:00Z"}`.
 */
export interface ScheduledEvent {
  schedule?: unknown;
  scheduledTime?: unknown;
}

export interface ScheduledDeps {
  config: () => Config;
  submit: (requester: Requester, command: ApiCommand) => Promise<{ statusCode: number; body: Record<string, unknown> }>;
}

/** A failure worth Lambda's retry of the asynchronous invocation (the hand-off to the worker did not happen). */
export class ScheduledHandOffError extends Error {
  override name = 'ScheduledHandOffError';
}

/**
 * One schedule's tick: the declared script or job submitted as the schedule's principal, through the
 * signed API's path (same parse, authorisation, audit and worker). Scheduler delivers at least once
 * and Lambda retries a failed asynchronous invocation: the idempotency key is the schedule and its
 * scheduled time, so each scheduled time runs once.
 */
export function createScheduledTarget(deps: ScheduledDeps) {
  return async function handleScheduled(event: ScheduledEvent): Promise<{ statusCode: number; body: Record<string, unknown> }> {
    const config = deps.config();
    const name = typeof event.schedule === 'string' ? event.schedule : undefined;
    const scheduledTime = typeof event.scheduledTime === 'string' && !Number.isNaN(Date.parse(event.scheduledTime)) ? event.scheduledTime : undefined;
    const catalog = name === CATALOG_SCHEDULE ? catalogSchedule(config) : undefined;
    const schedule = catalog ?? (name !== undefined && Object.hasOwn(config.schedules, name) ? config.schedules[name] : undefined);
    const text = catalog ? CATALOG_REFRESH_TEXT : schedule && 'args' in schedule ? scheduleCommandText(config, schedule) : undefined;
    if (!name || !scheduledTime || !schedule || !text) {
      // A schedule left behind by an older deployment, or an input nobody wrote: retrying would not help.
      log.warn('scheduled invocation for no declared schedule; nothing ran', { schedule: name, scheduledTime: event.scheduledTime });
      return { statusCode: 400, body: { error: 'bad_request', message: `no declared schedule ${String(name)} (or no scheduled time)` } };
    }
    const result = await deps.submit(
      scheduleRequester({ kind: 'schedule', name, expression: schedule.expression, timezone: schedule.timezone }, scheduledTime),
      {
        text,
        channelId: schedule.channel,
        idempotencyKey: `${name}@${scheduledTime}`,
        canonical: JSON.stringify({ schedule: name, text, channel: schedule.channel }),
      },
    );
    log.info('scheduled run submitted', { schedule: name, scheduledTime, statusCode: result.statusCode, id: result.body.id });
    if (result.statusCode >= 500) throw new ScheduledHandOffError(`schedule ${name} at ${scheduledTime}: ${String(result.body.message)}`);
    return result;
  };
}
