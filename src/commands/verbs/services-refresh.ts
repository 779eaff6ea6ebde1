import { isAllowed } from '../../auth/roles';
import { defineVerb, noWords, type NoArgs } from '../verb';

/**
 * `/ecs services --refresh`: the catalog refreshed now (src/commands/services-refresh.ts). A form
 * of `services` answered by the worker, chosen by the registry when the flag is typed; its name
 * holds a space, so nobody can type it as a verb of its own. Admins of every service only: the
 * catalog names every service of the fleet.
 */
export const servicesRefreshVerb = defineVerb<NoArgs>({
  name: 'services --refresh',
  summary: 'Admins: discover the fleet’s services now and refresh the catalog; the thread says what changed',
  usage: '/ecs services --refresh',
  details: [
    'Reads the accounts of the configuration’s `fleet:` (AWS Organizations or a list), assumes the target role in each, lists every ECS service of its regions with its tags, and rewrites the catalog. The thread lists the services added, removed and changed since the last refresh, and each account that could not be read with what to do about it. The catalog is also refreshed on the schedule of `fleet.refreshSchedule`.',
  ],
  permission: 'admin',
  checks: 'itself',
  runsIn: 'worker',
  flags: { withValue: [], boolean: ['refresh'] },
  parse(words) {
    return noWords(this, words);
  },
  // The whole catalog: no one service (the worker then builds no AWS session for one).
  scope: () => ({ subject: 'catalog' }),
  authorise: (entry, _scope, channelId) => isAllowed(entry, 'admin', { channelId, service: '*', wholeService: true }),
  handler: () => import('../services-refresh').then((m) => m.servicesRefresh),
});
