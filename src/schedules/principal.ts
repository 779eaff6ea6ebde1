import type { Requester } from '../api/requester';
import type { AllowlistStore } from '../auth/allowlist';
import type { AllowlistEntry, Grant } from '../auth/roles';
import type { Config, Schedule } from '../config/schema';
import { word } from '../api/requests';
import { CATALOG_SCHEDULE, catalogSchedule } from '../fleet/schedule';

/**
 * A schedule is a system principal: `schedule:<name>`, the user id its runs travel, are
 * authorised and audited under. It needs no allowlist entry: whoever declares a schedule controls
 * the configuration and the deployment (and so the bot's own IAM), which is more than any grant.
 * Its grant is derived from its declaration instead: the one script or job it names, on that
 * script's target, in its channel, and nothing else; removed from the configuration, it has none.
 */
export interface SchedulePrincipal {
  kind: 'schedule';
  name: string;
  /** As declared, told in the thread. */
  expression: string;
  timezone: string;
}

export const SCHEDULE_USER_PREFIX = 'schedule:';

/** The schedule as `submit` takes a requester: told as "⏰ Scheduled run of …" in its thread, audited `via: schedule`. */
export function scheduleRequester(principal: SchedulePrincipal, scheduledTime?: string): Requester {
  const userId = scheduleUserId(principal.name);
  return {
    userId,
    name: userId,
    origin: {
      via: 'schedule',
      schedule: principal.name,
      expression: principal.expression,
      timezone: principal.timezone,
      ...(scheduledTime ? { scheduledTime } : {}),
    },
    audit: { via: 'schedule', principal: userId },
    notAllowed: `schedule ${principal.name} is no longer declared in the configuration`,
  };
}
export const scheduleUserId = (name: string): string => `${SCHEDULE_USER_PREFIX}${name}`;
export const scheduleNameOf = (userId: string): string | undefined =>
  userId.startsWith(SCHEDULE_USER_PREFIX) ? userId.slice(SCHEDULE_USER_PREFIX.length) : undefined;

/** What the schedule declares it runs, its target, and the role that allows it (a job declared for admins needs admin). */
export function scheduledWork(config: Config, schedule: Schedule): { verb: 'run' | 'job'; name: string; target: string; role: Grant['role'] } | undefined {
  if (schedule.script !== undefined) {
    const script = Object.hasOwn(config.scripts, schedule.script) ? config.scripts[schedule.script] : undefined;
    return script && { verb: 'run', name: schedule.script, target: script.target, role: 'operator' };
  }
  const job = schedule.job !== undefined && Object.hasOwn(config.jobs, schedule.job) ? config.jobs[schedule.job] : undefined;
  return job && { verb: 'job', name: schedule.job!, target: job.target, role: job.permission === 'admin' ? 'admin' : 'operator' };
}

/** The words after `/ecs` a schedule's run stands for, as a person would type them: `run backup.sh nightly`. */
export function scheduleCommandText(config: Config, schedule: Schedule): string | undefined {
  const work = scheduledWork(config, schedule);
  return work && [work.verb, work.name, ...schedule.args.map(word)].join(' ');
}

/** The entry a schedule is authorised with: its own work, in its own channel (none for a schedule no longer declared). */
export function scheduleEntry(config: Config, teamId: string, name: string): AllowlistEntry | undefined {
  const catalog = name === CATALOG_SCHEDULE ? catalogSchedule(config) : undefined;
  if (catalog) {
    // The catalog's refresh names every service: admin of all of them, in its channel only.
    return {
      teamId,
      userId: scheduleUserId(name),
      grants: [{ role: 'admin', services: ['*'], channels: [catalog.channel] }],
      addedBy: 'configuration',
      updatedAt: '1970-01-01T00:00:00.000Z',
    };
  }
  const schedule = Object.hasOwn(config.schedules, name) ? config.schedules[name] : undefined;
  const work = schedule && scheduledWork(config, schedule);
  if (!schedule || !work) return undefined;
  return {
    teamId,
    userId: scheduleUserId(name),
    grants: [{ role: work.role, services: [work.target], scripts: [work.name], channels: [schedule.channel] }],
    addedBy: 'configuration',
    updatedAt: '1970-01-01T00:00:00.000Z',
  };
}

/** The allowlist, where a schedule's user id finds the entry its declaration gives it (never a stored one). */
export function withSchedules(store: AllowlistStore, config: () => Config): AllowlistStore {
  return {
    ...store,
    async get(teamId, userId) {
      const name = scheduleNameOf(userId);
      return name === undefined ? store.get(teamId, userId) : scheduleEntry(config(), teamId, name);
    },
  };
}

/** The schedules on services this person holds a role on here (`services`): what they may learn the names of. */
export function visibleSchedules(config: Config, services: readonly string[]): string[] {
  return Object.entries(config.schedules)
    .filter(([, s]) => {
      const work = scheduledWork(config, s);
      return work !== undefined && services.includes(work.target);
    })
    .map(([name]) => name);
}
