/**
 * EventBridge Scheduler, as `/ecs schedules` uses it: a schedule's state (GetSchedule) and pausing
 * or resuming it (UpdateSchedule). UpdateSchedule replaces the whole schedule, so the change is the
 * schedule as GetSchedule returned it with only its State changed. The SDK is loaded on first use.
 */
import type { GetScheduleCommandOutput, SchedulerClient } from '@aws-sdk/client-scheduler';
import { requiredEnv } from '../config/env';
import { UserFacingError } from '../platform/errors';
import { escapeText } from '../slack/format';

export type ScheduleState = 'ENABLED' | 'DISABLED';

export interface ScheduleStatus {
  state: ScheduleState;
  /** When Scheduler created it: where a rate schedule counts its periods from. */
  createdAt?: number;
}

export interface Schedules {
  /** Undefined when Scheduler has no such schedule (not deployed yet). */
  get(name: string): Promise<ScheduleStatus | undefined>;
  /** Sets its state; the previous one. */
  setState(name: string, state: ScheduleState): Promise<ScheduleState>;
}

/** The schedule is in the configuration but not in Scheduler: the configuration was changed without a deployment. */
export class ScheduleNotDeployedError extends UserFacingError {
  constructor(name: string) {
    super(`Schedule \`${escapeText(name)}\` is in the configuration but not in EventBridge Scheduler: deploy the bot to create it.`);
  }
}

let client: SchedulerClient | undefined;
const sdk = () => import('@aws-sdk/client-scheduler');

const isNotFound = (error: unknown) => (error as { name?: string }).name === 'ResourceNotFoundException';

/** The bot's own schedules, in its account and group (serverless.yml's ScheduleGroup). */
export const awsSchedules = (): Schedules => ({
  async get(name) {
    const m = await sdk();
    client ??= new m.SchedulerClient({ maxAttempts: 3 });
    try {
      const out = await client.send(new m.GetScheduleCommand({ Name: name, GroupName: requiredEnv('SCHEDULE_GROUP_NAME') }));
      return { state: out.State === 'DISABLED' ? 'DISABLED' : 'ENABLED', ...(out.CreationDate ? { createdAt: out.CreationDate.getTime() } : {}) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  },
  async setState(name, state) {
    const m = await sdk();
    client ??= new m.SchedulerClient({ maxAttempts: 3 });
    const group = requiredEnv('SCHEDULE_GROUP_NAME');
    let current: GetScheduleCommandOutput;
    try {
      current = await client.send(new m.GetScheduleCommand({ Name: name, GroupName: group }));
    } catch (error) {
      if (isNotFound(error)) throw new ScheduleNotDeployedError(name);
      throw error;
    }
    const previous: ScheduleState = current.State === 'DISABLED' ? 'DISABLED' : 'ENABLED';
    if (previous === state) return previous;
    // Everything GetSchedule returned that UpdateSchedule takes: what is left out would be reset.
    await client.send(
      new m.UpdateScheduleCommand({
        Name: name,
        GroupName: group,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        StartDate: current.StartDate,
        EndDate: current.EndDate,
        Description: current.Description,
        KmsKeyArn: current.KmsKeyArn,
        Target: current.Target,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: state,
      }),
    );
    return previous;
  },
});
