import { isAllowed } from '../../auth/roles';
import { withLabels } from '../../fleet/memory-catalog';
import { lookup } from '../../config/records';
import { escapeText } from '../../slack/format';
import { scheduledWork, visibleSchedules } from '../../schedules/principal';
import { defineVerb, expectCount, UnknownNameError, usageError } from '../verb';
import type { SchedulesArgs } from './args';

/**
 * `/ecs schedules`: the configuration's schedules (EventBridge Scheduler) with their next run;
 * `pause <name>` / `resume <name>`: admins of the schedule's service only, audited.
 */
export const schedulesVerb = defineVerb<SchedulesArgs>({
  name: 'schedules',
  summary: 'The scheduled runs (EventBridge Scheduler): when each runs next, its state and last outcome; admins pause and resume them',
  usage: '/ecs schedules [pause|resume <name>]',
  details: [
    'Lists the schedules of the services you hold a role on here: expression and time zone, ENABLED or DISABLED (from EventBridge Scheduler), the next run in its time zone, and how the last run ended.',
    '`/ecs schedules pause <name>` and `/ecs schedules resume <name>` need the admin role on the schedule’s service in this channel. The configuration decides what a schedule runs; a deployment sets the state the configuration declares again (`enabled:`).',
  ],
  permission: 'read',
  // Listing: each schedule is shown only on a service the person may read. Pausing: admin on the schedule's service.
  checks: 'itself',
  runsIn: 'worker',
  parse(words, config, visible) {
    expectCount(this, words, 0, 2);
    const [action, name] = words.positional;
    if (action === undefined) return { action: 'list' };
    if (action !== 'pause' && action !== 'resume') throw usageError(this, `\`${escapeText(action)}\` is not \`pause\` or \`resume\`.`);
    if (name === undefined) throw usageError(this, `\`${action}\` needs the schedule’s name.`);
    const mine = visibleSchedules(config, visible.services);
    if (!mine.includes(name)) {
      const list = mine.length ? ` Your schedules here: ${mine.map((s) => `\`${s}\``).join(', ')}.` : '';
      throw new UnknownNameError(`Unknown schedule \`${escapeText(name)}\`, or not one of yours.${list}`, lookup(config.schedules, name) !== undefined);
    }
    return { action, schedule: name };
  },
  scope: (args, config) => {
    if (args.action === 'list') return {};
    const schedule = lookup(config.schedules, args.schedule);
    const work = schedule && scheduledWork(config, schedule);
    // The schedule is the subject; its service is what the admin role must cover.
    return { ...(work ? { target: work.target } : {}), wholeService: true, subject: `schedule:${args.schedule}` };
  },
  authorise: (entry, scope, channelId, labelsOf) => {
    if (!scope.subject) return { allowed: true };
    // A schedule whose service cannot be named is refused: a missing scope is a denial.
    if (!scope.target) return { allowed: false, reason: 'the schedule no longer names a service' };
    return isAllowed(entry, 'admin', withLabels({ channelId, service: scope.target, wholeService: true }, labelsOf));
  },
  handler: () => import('../schedules').then((m) => m.schedules),
});
