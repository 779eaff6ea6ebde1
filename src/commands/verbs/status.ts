import { formatSelector, isSelector, parseSelector } from '../../fleet/selector';
import { defineVerb, expectCount, onTarget, resolveTarget, usageError } from '../verb';
import type { FleetService } from '../../fleet/types';
import type { FleetArgs, StatusArgs } from './args';

export const statusVerb = defineVerb<StatusArgs | FleetArgs, FleetService[]>({
  name: 'status',
  summary: 'Show a service: counts, task definition, images, deployments, events, stopped tasks; or a fleet: `/ecs status env=prod`',
  usage: '/ecs status <service>',
  details: [
    "A service discovered into the fleet's catalog (`/ecs services --refresh`) can be named too, not only a declared one.",
    '`/ecs status <selector> [--all]`: with a selector (`env=prod`, `team=payments,env=prod`, `account=123456789012`, `region=eu-west-1`, `*`): every matching service you may read, fanned out; one summary in the thread (worst first) and the whole result as CSV and JSON.',
  ],
  permission: 'read',
  checks: 'target',
  onDiscovered: true,
  runsIn: 'worker',
  flags: { withValue: [], boolean: ['all'] },
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    const word = words.positional[0];
    if (word !== undefined && isSelector(word))
      return { selector: formatSelector(parseSelector(word)), ...(words.flags.has('all') ? { all: true as const } : {}) };
    if (words.flags.has('all')) throw usageError(this, '`--all` confirms a large selection: give a selector.');
    return { target: resolveTarget(this, word, config, visible) };
  },
  scope: (args) => ('selector' in args ? { selector: args.selector } : onTarget(args)),
  handler: () => import('../status').then((m) => m.statusOrFleet),
  // A selection matching nothing readable, or too large, is refused privately; one that fits is handed to the handler.
  privateRefusal: () => import('../fleet').then((m) => m.fleetRefusal),
});
