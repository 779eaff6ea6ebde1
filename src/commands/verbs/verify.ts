import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, IMAGE_OR_TAG, resolveTarget, usageError } from '../verb';
import type { FleetService } from '../../fleet/types';
import type { FleetArgs, VerifyArgs } from './args';
import { formatSelector, isSelector, parseSelector } from '../../fleet/selector';

export const verifyVerb = defineVerb<VerifyArgs | FleetArgs, FleetService[]>({
  name: 'verify',
  summary:
    'Check everything the service depends on: roles, images, logs, secrets, load balancers, cluster, ECS Exec, network; or a fleet: `/ecs verify env=prod`',
  usage: '/ecs verify <service> [--image <tag|image>] [--put-logs]',
  details: [
    "A service discovered into the fleet's catalog (`/ecs services --refresh`) can be named too, not only a declared one.",
    '`--image` checks what a deploy of that image (or tag) would leave behind, before anyone approves it.',
    '`--put-logs` proves logging works by writing one line to each log group (off by default).',
    'Permissions are checked as the role that uses them (IAM policy simulation), not as the bot.',
    '`/ecs verify <selector> [--all]`: with a selector (`env=prod`, `team=payments,env=prod`, `*`): every matching service you may read, fanned out (at most 5 AWS calls in flight per account); one summary in the thread, worst first, and the whole result as CSV and JSON.',
  ],
  permission: 'read',
  checks: 'target',
  onDiscovered: true,
  runsIn: 'worker',
  flags: { withValue: ['image'], boolean: ['put-logs', 'all'] },
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    const word = words.positional[0];
    if (word !== undefined && isSelector(word)) {
      if (words.flags.has('image') || words.flags.has('put-logs')) throw usageError(this, '`--image` and `--put-logs` are for one service, not a selector.');
      return { selector: formatSelector(parseSelector(word)), ...(words.flags.has('all') ? { all: true as const } : {}) };
    }
    if (words.flags.has('all')) throw usageError(this, '`--all` confirms a large selection: give a selector.');
    const target = resolveTarget(this, words.positional[0], config, visible);
    const image = words.flags.get('image');
    if (typeof image === 'string' && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
    const putLogs = words.flags.has('put-logs') || (config.targets[target]?.verify.putLogs ?? false);
    return { target, ...(typeof image === 'string' ? { image } : {}), putLogs };
  },
  scope: (args) => ('selector' in args ? { selector: args.selector } : onTarget(args)),
  handler: () => import('../verify').then((m) => m.verifyOrFleet),
  // A selection matching nothing readable, or too large, is refused privately; one that fits is handed to the handler.
  privateRefusal: () => import('../fleet').then((m) => m.fleetRefusal),
});
